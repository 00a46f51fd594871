"""The closings as spreadsheets: the admin's month (whom to pay, and the
consultations behind it) and a doctor's statement of one closing.

Both are drawn with the revenue export's cells (billing/spreadsheet.py):
money as numbers in MONEY_FORMAT, dates as date cells in the clinic's local
time, every text cell a string that never runs as a formula, totals as SUM
formulas the workbook recalculates when it is opened. Each export is two
queries whatever its size: the closings with their doctors, and the records.

Durations are whole minutes as numbers ("Duração (min)": 32), not "32 min":
a number sorts, filters and adds up in the clinic's spreadsheet; text does not.
"""

import datetime as dt

from django.conf import settings
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from accounts.validators import format_pix_key
from billing.charts import month_label
from billing.models import BillingRecord
from billing.spreadsheet import (
    COUNT,
    DATE,
    DATETIME,
    FONT_NAME,
    MAX_WIDTH,
    MONEY,
    TEXT,
    Alert,
    Column,
    set_up_printing,
    shown_length,
    workbook_bytes,
    write_table,
    write_text,
    write_title,
    write_value,
)

from .models import ClosingStatus, MonthlyClosing

# Every closing of the month but the cancelled ones (whose records are in none).
SHOWN = [ClosingStatus.PENDING, ClosingStatus.PAID, ClosingStatus.RECEIVED]
HEADER_ROW = 4
_DOCTOR_ORDER = ["doctor__first_name", "doctor__last_name", "doctor_id", "sequence"]


def month_filename(month: dt.date) -> str:
    return f"fechamento-{month:%Y-%m}.xlsx"


def statement_filename(closing: MonthlyClosing) -> str:
    """extrato-2026-11-dra-ana-souza.xlsx (…-adicional-2.xlsx for an additional closing)."""
    name = slugify(closing.doctor.display_name)[:60].strip("-") or f"medico-{closing.doctor_id}"
    extra = f"-adicional-{closing.sequence}" if closing.is_additional else ""
    return f"extrato-{closing.month:%Y-%m}-{name}{extra}.xlsx"


def month_workbook(*, month: dt.date) -> bytes:
    """The month's closings that are not cancelled, one row each ("Pagamentos"),
    and every consultation in them ("Consultas")."""
    month = month.replace(day=1)
    closings = list(
        MonthlyClosing.objects.filter(month=month, status__in=SHOWN)
        .select_related("doctor__doctor_profile")
        .order_by(*_DOCTOR_ORDER)
    )
    records = _records_of(
        BillingRecord.objects.filter(closing__month=month, closing__status__in=SHOWN), closings
    )
    clinic, when = settings.CLINIC_NAME, month_label(month)
    book = Workbook()
    payments = book.active
    payments.title = _("Payments")[:31]
    write_title(payments, f"{clinic} · {_('Payments')} · {when}")
    write_table(
        payments,
        header_row=HEADER_ROW,
        columns=[
            Column(_("Doctor"), width=24),
            Column(_("CRM/State")),
            Column(_("E-mail"), width=16),
            Column(_("Consultations"), COUNT, total=True),
            Column(_("Gross"), MONEY, total=True),
            Column(_("Clinic share"), MONEY, total=True),
            Column(_("Net"), MONEY, total=True),
            Column(_("Key type")),
            Column(_("PIX key"), width=14),
            Column(pgettext("spreadsheet column", "Status"), width=12),
            Column(_("Paid on"), DATE),
            Column(_("Received on"), DATETIME),
        ],
        rows=[_payment_row(closing) for closing in closings],
        total_label=_("Total"),
        autofilter=True,
    )
    set_up_printing(payments, title_rows=f"{HEADER_ROW}:{HEADER_ROW}")
    consultations = book.create_sheet(_("Consultations")[:31])
    write_title(consultations, f"{clinic} · {_('Consultations')} · {when}")
    _records_table(consultations, records, with_doctor=True)
    return workbook_bytes(book)


def closing_statement_workbook(*, closing: MonthlyClosing) -> bytes:
    """One closing as its doctor sees it: a summary ("Extrato") and its
    consultations ("Consultas")."""
    closing = MonthlyClosing.objects.select_related("doctor__doctor_profile").get(pk=closing.pk)
    records = _records_of(BillingRecord.objects.filter(closing=closing), [closing])
    title = " · ".join(
        [settings.CLINIC_NAME, _("Statement"), month_label(closing.month), _doctor(closing)]
    )
    book = Workbook()
    summary = book.active
    summary.title = _("Statement")[:31]
    write_title(summary, title)
    _summary_block(summary, closing)
    set_up_printing(summary, title_rows="1:2", landscape=False)
    consultations = book.create_sheet(_("Consultations")[:31])
    write_title(consultations, title)
    _records_table(consultations, records, with_doctor=False)
    return workbook_bytes(book)


# --- The parts ----------------------------------------------------------------------


def _doctor(closing: MonthlyClosing) -> str:
    """The doctor's name; an additional closing says which: "Dra. Ana Souza (adicional 2)"."""
    name = closing.doctor.display_name
    if closing.is_additional:
        name = f"{name} ({_('additional %(n)d') % {'n': closing.sequence}})"
    return name


def _crm(closing: MonthlyClosing) -> str:
    profile = getattr(closing.doctor, "doctor_profile", None)
    return f"{profile.crm}/{profile.crm_state}" if profile else ""


def _status(closing: MonthlyClosing) -> str:
    label = closing.get_status_display()
    if closing.contested:
        label = _("%(status)s, problem reported") % {"status": label}
    return label


def _pix_key(closing: MonthlyClosing) -> str:
    """The key as it is typed into a bank app, or a red "sem chave PIX"."""
    if not closing.pix_key:
        return Alert(_("no PIX key"))
    return format_pix_key(closing.pix_key_type, closing.pix_key)


def _payment_row(closing: MonthlyClosing) -> tuple:
    return (
        _doctor(closing),
        _crm(closing),
        closing.doctor.email,
        closing.consultation_count,
        closing.gross_total,
        closing.platform_total,
        closing.net_total,
        closing.get_pix_key_type_display() if closing.pix_key_type else "",
        _pix_key(closing),
        _status(closing),
        closing.paid_on,
        closing.received_at,
    )


def _records_of(queryset, closings: list[MonthlyClosing]) -> list[tuple]:
    """(closing, record) for the records of `queryset`, in the order of
    `closings` (by doctor), each closing's from the earliest."""
    place = {closing.pk: (index, closing) for index, closing in enumerate(closings)}
    records = queryset.select_related("patient").order_by("ended_at", "pk")
    pairs = [(place[r.closing_id], r) for r in records if r.closing_id in place]
    pairs.sort(key=lambda pair: pair[0][0])  # stable: each closing's stay by time
    return [(closing, record) for (_index, closing), record in pairs]


def _records_table(sheet, records: list[tuple], *, with_doctor: bool) -> None:
    columns = [
        Column(_("Date and time"), DATETIME),
        Column(_("Patient"), width=24),
        Column(_("Duration (min)"), COUNT, total=True),
        Column(_("Gross"), MONEY, total=True),
        Column(_("Clinic share"), MONEY, total=True),
        Column(_("Net"), MONEY, total=True),
    ]
    rows = [
        (
            record.ended_at,
            record.patient.display_name,
            round(record.seconds_together / 60),
            record.gross,
            record.platform_amount,
            record.doctor_amount,
        )
        for _closing, record in records
    ]
    if with_doctor:
        columns.insert(0, Column(_("Doctor"), width=24))
        rows = [
            (_doctor(closing), *row) for (closing, _record), row in zip(records, rows, strict=True)
        ]
    write_table(
        sheet,
        header_row=HEADER_ROW,
        columns=columns,
        rows=rows,
        total_label=_("Total"),
        autofilter=True,
    )
    set_up_printing(sheet, title_rows=f"{HEADER_ROW}:{HEADER_ROW}")


def _summary_block(sheet, closing: MonthlyClosing) -> None:
    """Label and value, one pair a row, from row 4."""
    lines = [
        (_("Doctor"), _doctor(closing), TEXT),
        (_("CRM/State"), _crm(closing), TEXT),
        (pgettext("spreadsheet column", "Status"), _status(closing), TEXT),
        (_("Consultations"), closing.consultation_count, COUNT),
        (_("Gross"), closing.gross_total, MONEY),
        (_("Clinic share"), closing.platform_total, MONEY),
        (_("Net"), closing.net_total, MONEY),
        (_("Key type"), closing.get_pix_key_type_display() if closing.pix_key_type else "", TEXT),
        (_("PIX key"), _pix_key(closing), TEXT),
        (_("Paid on"), closing.paid_on, DATE),
        (_("Received on"), closing.received_at, DATETIME),
    ]
    for row, (label, value, kind) in enumerate(lines, start=HEADER_ROW):
        write_text(sheet.cell(row=row, column=1), str(label))
        sheet.cell(row=row, column=1).font = Font(name=FONT_NAME, bold=True)
        write_value(sheet.cell(row=row, column=2), value, kind)
        sheet.cell(row=row, column=2).alignment = Alignment(horizontal="left")
    sheet.column_dimensions["A"].width = max(len(str(label)) for label, _v, _k in lines) + 4
    widest = max(shown_length(value, kind) for _label, value, kind in lines)
    sheet.column_dimensions["B"].width = min(max(widest, 24) + 2, MAX_WIDTH)
