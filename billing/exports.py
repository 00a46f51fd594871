"""The revenue table as a spreadsheet (openpyxl).

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


def revenue_workbook(*, rows, totals: dict, period_label: str, clinic_name: str) -> bytes:
    """`rows`: selectors.DoctorRevenue; `totals`: selectors.revenue_totals(rows)."""
    book = Workbook()
    sheet = book.active
    sheet.title = _("Revenue")[:31]
    headers = [
        _("Doctor"),
        _("Consultations"),
        _("Gross"),
        _("Clinic share"),
        _("Doctors' share"),
        _("Not held"),
    ]
    _text(sheet.cell(row=1, column=1), f"{clinic_name} · {_('Revenue')} · {period_label}")
    sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
    generated = timezone.localtime().strftime("%d/%m/%Y %H:%M")
    _text(sheet.cell(row=2, column=1), _("Generated on %(time)s") % {"time": generated})
    sheet.cell(row=2, column=1).font = Font(italic=True, color="555555")

    header_row = 4
    for column, title in enumerate(headers, start=1):
        cell = sheet.cell(row=header_row, column=column)
        _text(cell, str(title))
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="left" if column == 1 else "right")

    first = header_row + 1
    for offset, row in enumerate(rows):
        line = first + offset
        _text(sheet.cell(row=line, column=1), row.doctor.display_name)
        sheet.cell(row=line, column=2, value=row.consultations)
        for column, amount in ((3, row.gross), (4, row.platform), (5, row.doctors)):
            cell = sheet.cell(row=line, column=column, value=Decimal(amount))
            cell.number_format = MONEY_FORMAT
        sheet.cell(row=line, column=6, value=row.no_shows)

    total_row = first + len(rows)
    last = total_row - 1
    _text(sheet.cell(row=total_row, column=1), _("Total"))
    for column in range(2, 7):
        letter = get_column_letter(column)
        # With no rows, a plain 0: SUM over an inverted range would point at the header.
        value = f"=SUM({letter}{first}:{letter}{last})" if rows else 0
        cell = sheet.cell(row=total_row, column=column, value=value)
        if column in (3, 4, 5):
            cell.number_format = MONEY_FORMAT
    for column in range(1, 7):
        cell = sheet.cell(row=total_row, column=column)
        cell.font = Font(bold=True)
        cell.border = _TOTAL_BORDER

    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    _fit_widths(sheet, headers, rows, totals)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _fit_widths(sheet, headers, rows, totals) -> None:
    names = [len(row.doctor.display_name) for row in rows]
    sheet.column_dimensions["A"].width = min(max([len(str(headers[0])), 24, *names]) + 2, 60)
    widest_money = len(format_brl(max(totals["gross"], Decimal("0")))) + 4
    for column, title in enumerate(headers[1:], start=2):
        width = max(len(str(title)), widest_money if column in (3, 4, 5) else 8) + 2
        sheet.column_dimensions[get_column_letter(column)].width = width
