"""How the clinic's spreadsheets look (openpyxl): one set of cells for every export.

Money cells are numbers, never text, so the clinic can add them up. Their
format code is `"R$" #,##0.00`: in a format code `,` and `.` are the
grouping and decimal *placeholders*, and Excel and LibreOffice draw them with
the reader's locale, so in pt-BR the cell reads R$ 1.234,56 (the issue's
`R$ #.##0,00` is how it looks, not a code Excel accepts: it would be read as
literal characters). The currency is quoted so no locale turns it into
another symbol. Dates and times are real date cells in the clinic's local
time, written without a zone (Excel has none), as dd/mm/yyyy (hh:mm).

A name typed by a person ("=HYPERLINK(...)", "+55...", "@SUM") must never run
as a formula in the clinic's spreadsheet: every text cell is stored as a
string, and text that starts like a formula also gets Excel's quote prefix.

Totals are SUM formulas, which openpyxl writes without a cached result: the
workbook asks to be recalculated when it is opened (`fullCalcOnLoad`), so
Excel and LibreOffice show the figures; a reader that never calculates (some
previews, pandas) sees the formula's cell empty.
"""

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from .money import format_brl
from .selectors import clinic_zone

MONEY_FORMAT = '"R$" #,##0.00'
DATE_FORMAT = "dd/mm/yyyy"
DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
MAX_WIDTH = 60
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BLUE = "1D4ED8"
_HEADER_FILL = PatternFill("solid", fgColor=_BLUE)
# Named, so every reader draws the same font (unnamed, LibreOffice falls back to a serif).
FONT_NAME = "Calibri"
_HEADER_FONT = Font(name=FONT_NAME, bold=True, color="FFFFFF")
_TOTAL_BORDER = Border(top=Side(style="thin", color=_BLUE))
_ALERT_FONT = Font(name=FONT_NAME, bold=True, color="B91C1C")
_ALERT_FILL = PatternFill("solid", fgColor="FEE2E2")

TEXT, COUNT, MONEY, DATE, DATETIME = "text", "count", "money", "date", "datetime"
_NUMBERS = (COUNT, MONEY, DATE, DATETIME)  # right-aligned, as readers align numbers
# Text a little in from the left: a right-aligned number before it does not touch it
# (LibreOffice ignores an indent on a number cell, so the room goes on the text side).
_LEFT = Alignment(horizontal="left", indent=1)
_RIGHT = Alignment(horizontal="right")


class Alert(str):
    """Text the reader must not miss ("sem chave PIX"): written in red."""


@dataclass(frozen=True)
class Column:
    heading: str
    kind: str = TEXT
    total: bool = False  # a SUM in the totals row
    width: int = 8  # at least this many characters wide


@dataclass(frozen=True)
class Table:
    header_row: int
    first: int  # the first and last data rows (last < first when there are none)
    last: int
    total_row: int | None


def write_text(cell, value: str) -> None:
    """Write `value` as a string that no spreadsheet evaluates."""
    cell.value = value
    cell.data_type = "s"
    if value.startswith(_FORMULA_START):
        cell.quotePrefix = True
    if isinstance(value, Alert):
        cell.font = _ALERT_FONT
        cell.fill = _ALERT_FILL


def local_naive(value: dt.datetime) -> dt.datetime:
    """An aware moment as the clinic's wall clock shows it, without a zone (Excel has none)."""
    return timezone.localtime(value, clinic_zone()).replace(tzinfo=None)


def write_value(cell, value, kind: str) -> None:
    """One cell of a column of `kind`; None leaves it empty."""
    if value is None:
        return
    if kind == TEXT:
        write_text(cell, value if isinstance(value, str) else str(value))
    elif kind == MONEY:
        cell.value = Decimal(value)
        cell.number_format = MONEY_FORMAT
    elif kind == DATETIME:
        cell.value = local_naive(value)
        cell.number_format = DATETIME_FORMAT
    elif kind == DATE:
        cell.value = value
        cell.number_format = DATE_FORMAT
    else:
        cell.value = value


def write_title(sheet, title: str) -> None:
    """Row 1: what the sheet is; row 2: when it was made, in the clinic's time."""
    write_text(sheet.cell(row=1, column=1), title)
    sheet.cell(row=1, column=1).font = Font(name=FONT_NAME, bold=True, size=14)
    made = timezone.localtime(timezone.now(), clinic_zone()).strftime("%d/%m/%Y %H:%M")
    write_text(sheet.cell(row=2, column=1), _("Generated on %(time)s") % {"time": made})
    sheet.cell(row=2, column=1).font = Font(name=FONT_NAME, italic=True, color="555555")


def write_table(
    sheet,
    *,
    header_row: int,
    columns: list[Column],
    rows: list[tuple],
    total_label: str | None = None,
    autofilter: bool = False,
) -> Table:
    """A styled header, one row per tuple of `rows` and, with `total_label`, a
    totals row of SUM formulas; the header frozen, the columns fitted."""
    for number, column in enumerate(columns, start=1):
        cell = sheet.cell(row=header_row, column=number)
        write_text(cell, str(column.heading))
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = _RIGHT if column.kind in _NUMBERS else _LEFT

    first = header_row + 1
    for offset, values in enumerate(rows):
        for number, (column, value) in enumerate(zip(columns, values, strict=True), start=1):
            cell = sheet.cell(row=first + offset, column=number)
            write_value(cell, value, column.kind)
            if column.kind not in _NUMBERS:
                cell.alignment = _LEFT
    last = first + len(rows) - 1

    total_row = None
    if total_label is not None:
        total_row = last + 1
        write_text(sheet.cell(row=total_row, column=1), str(total_label))
        for number, column in enumerate(columns, start=1):
            cell = sheet.cell(row=total_row, column=number)
            if column.total:
                letter = get_column_letter(number)
                # With no rows, a plain 0: SUM over an inverted range would point at the header.
                cell.value = f"=SUM({letter}{first}:{letter}{last})" if rows else 0
                if column.kind == MONEY:
                    cell.number_format = MONEY_FORMAT
            cell.font = Font(name=FONT_NAME, bold=True)
            cell.border = _TOTAL_BORDER
            numbers = column.kind in _NUMBERS and number > 1  # column 1 holds the label
            cell.alignment = _RIGHT if numbers else _LEFT

    sheet.freeze_panes = sheet.cell(row=first, column=1)
    if autofilter:
        # The header and the data, never the totals row: sorting must not move it.
        end = get_column_letter(len(columns)) + str(max(last, header_row))
        sheet.auto_filter.ref = f"A{header_row}:{end}"
    fit_widths(sheet, columns, rows)
    return Table(header_row=header_row, first=first, last=last, total_row=total_row)


def shown_length(value, kind: str) -> int:
    if value is None:
        return 0
    if kind == MONEY:
        return len(format_brl(value)) + 4  # the bold total, and room for the reader's font
    if kind == DATE:
        return 10
    if kind == DATETIME:
        return 16
    return len(str(value))


def fit_widths(sheet, columns: list[Column], rows: list[tuple]) -> None:
    """Each column as wide as its heading, its widest value (a money column's
    total) or its minimum, whichever is widest, up to MAX_WIDTH."""
    for number, column in enumerate(columns, start=1):
        values = [row[number - 1] for row in rows]
        if column.kind == MONEY:
            values = [sum((Decimal(v) for v in values if v is not None), Decimal("0"))]
        widest = max([len(str(column.heading)), column.width]
                     + [shown_length(v, column.kind) for v in values])  # fmt: skip
        sheet.column_dimensions[get_column_letter(number)].width = min(widest + 2, MAX_WIDTH)


def set_up_printing(sheet, *, title_rows: str, landscape: bool = True) -> None:
    """A4, as wide as the page (as many pages down as it takes), `title_rows`
    (e.g. "4:4") repeated on every page, and page numbers in the footer."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.print_title_rows = title_rows
    sheet.oddFooter.center.text = _("Page &P of &N")


def workbook_bytes(book) -> bytes:
    """The .xlsx file, set to recalculate its formulas when it is opened."""
    book.calculation.fullCalcOnLoad = True
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
