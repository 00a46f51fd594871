"""The revenue tables as a spreadsheet (openpyxl).

Money cells are numbers, never text, so the clinic can add them up. Their
format code is `"R$" #,##0.00`: in a format code `,` and `.` are the
grouping and decimal *placeholders*, and Excel and LibreOffice draw them with
the reader's locale, so in pt-BR the cell reads R$ 1.234,56 (the issue's
`R$ #.##0,00` is how it looks, not a code Excel accepts: it would be read as
literal characters). The currency is quoted so no locale turns it into
another symbol.

A name typed by a person ("=HYPERLINK(...)", "+55...", "@SUM") must never run
as a formula in the clinic's spreadsheet: every text cell is stored as a
string, and text that starts like a formula also gets Excel's quote prefix.
"""

import io
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from .charts import month_label
from .money import format_brl

MONEY_FORMAT = '"R$" #,##0.00'
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_HEADER_FILL = PatternFill("solid", fgColor="1D4ED8")
_TOTAL_BORDER = Border(top=Side(style="thin", color="1D4ED8"))


def _text(cell, value: str) -> None:
    """Write `value` as a string that no spreadsheet evaluates."""
    cell.value = value
    cell.data_type = "s"
    if value.startswith(_FORMULA_START):
        cell.quotePrefix = True


def revenue_workbook(*, rows, period_label: str, clinic_name: str, months=()) -> bytes:
    """The revenue page's two tables, each on a sheet of its own: `rows`
    (selectors.DoctorRevenue) for the period, and `months` (selectors.MonthRevenue,
    newest first)."""
    book = Workbook()
    by_doctor = book.active
    by_doctor.title = _("Revenue")[:31]
    _table(
        by_doctor,
        title=f"{clinic_name} · {_('Revenue')} · {period_label}",
        first_header=_("Doctor"),
        lines=[
            (r.doctor.display_name, r.consultations, r.gross, r.platform, r.doctors, r.no_shows)
            for r in rows
        ],
    )
    if months:
        by_month = book.create_sheet(_("Month by month")[:31])
        _table(
            by_month,
            title=f"{clinic_name} · {_('Month by month')}",
            first_header=_("Month"),
            lines=[
                (month_label(m.month), m.consultations, m.gross, m.platform, m.doctors, m.no_shows)
                for m in months
            ],
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _table(sheet, *, title: str, first_header, lines: list[tuple]) -> None:
    """A title, when it was made, a styled header, one row per line (a name, a count,
    three amounts and the no-shows) and a totals row of SUM formulas."""
    headers = [
        first_header,
        _("Consultations"),
        _("Gross"),
        _("Clinic share"),
        _("Doctors' share"),
        _("Not held"),
    ]
    _text(sheet.cell(row=1, column=1), title)
    sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
    generated = timezone.localtime().strftime("%d/%m/%Y %H:%M")
    _text(sheet.cell(row=2, column=1), _("Generated on %(time)s") % {"time": generated})
    sheet.cell(row=2, column=1).font = Font(italic=True, color="555555")

    header_row = 4
    for column, heading in enumerate(headers, start=1):
        cell = sheet.cell(row=header_row, column=column)
        _text(cell, str(heading))
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="left" if column == 1 else "right")

    first = header_row + 1
    for offset, (name, consultations, gross, platform, doctors, no_shows) in enumerate(lines):
        line = first + offset
        _text(sheet.cell(row=line, column=1), str(name))
        sheet.cell(row=line, column=2, value=consultations)
        for column, amount in ((3, gross), (4, platform), (5, doctors)):
            cell = sheet.cell(row=line, column=column, value=Decimal(amount))
            cell.number_format = MONEY_FORMAT
        sheet.cell(row=line, column=6, value=no_shows)

    total_row = first + len(lines)
    last = total_row - 1
    _text(sheet.cell(row=total_row, column=1), _("Total"))
    for column in range(2, 7):
        letter = get_column_letter(column)
        # With no rows, a plain 0: SUM over an inverted range would point at the header.
        value = f"=SUM({letter}{first}:{letter}{last})" if lines else 0
        cell = sheet.cell(row=total_row, column=column, value=value)
        if column in (3, 4, 5):
            cell.number_format = MONEY_FORMAT
    for column in range(1, 7):
        cell = sheet.cell(row=total_row, column=column)
        cell.font = Font(bold=True)
        cell.border = _TOTAL_BORDER

    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    _fit_widths(sheet, headers, lines)


def _fit_widths(sheet, headers, lines) -> None:
    names = [len(str(line[0])) for line in lines]
    sheet.column_dimensions["A"].width = min(max([len(str(headers[0])), 24, *names]) + 2, 60)
    gross = sum((Decimal(line[2]) for line in lines), Decimal("0"))
    widest_money = len(format_brl(gross)) + 4
    for column, heading in enumerate(headers[1:], start=2):
        width = max(len(str(heading)), widest_money if column in (3, 4, 5) else 8) + 2
        sheet.column_dimensions[get_column_letter(column)].width = width
