"""The revenue tables as a spreadsheet (openpyxl), in the cells of billing/spreadsheet.py:
money as numbers (MONEY_FORMAT, and why its code is `"R$" #,##0.00`), nothing a
person typed ever run as a formula, totals as SUM formulas."""

from django.utils.translation import gettext as _
from openpyxl import Workbook

from .charts import month_label
from .spreadsheet import (
    COUNT,
    MONEY,
    MONEY_FORMAT,
    Column,
    workbook_bytes,
    write_table,
    write_title,
)

__all__ = ["MONEY_FORMAT", "revenue_workbook"]


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
    return workbook_bytes(book)


def _table(sheet, *, title: str, first_header, lines: list[tuple]) -> None:
    """A title, when it was made, a styled header, one row per line (a name, a count,
    three amounts and the no-shows) and a totals row of SUM formulas."""
    write_title(sheet, title)
    write_table(
        sheet,
        header_row=4,
        columns=[
            Column(first_header, width=24),
            Column(_("Consultations"), COUNT, total=True),
            Column(_("Gross"), MONEY, total=True),
            Column(_("Clinic share"), MONEY, total=True),
            Column(_("Doctors' share"), MONEY, total=True),
            Column(_("Not held"), COUNT, total=True),
        ],
        rows=lines,
        total_label=_("Total"),
    )
