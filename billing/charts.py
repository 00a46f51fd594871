"""Chart data for the billing pages: the last months, every month present, as strings.

Chart.js draws it (static/js/charts.js); the same numbers fill a data table for
screen readers and for print. Months with nothing billed are zeros, so the
axis never skips a month.
"""

import datetime as dt
import functools
from decimal import Decimal

from django.utils import formats, translation


def month_label(month: dt.date, format_name: str = "YEAR_MONTH_FORMAT") -> str:
    """ "outubro de 2026": Portuguese writes month names in lower case, though
    Django's catalog capitalizes them ("Outubro")."""
    return _month_label(month, format_name, translation.get_language() or "")


# A month picker lists 60 months and a chart 12, on every report page; Django's
# date_format costs about 15 µs each. A label depends only on these three.
@functools.lru_cache(maxsize=1024)
def _month_label(month: dt.date, format_name: str, language: str) -> str:
    text = formats.date_format(month, format_name)  # in `language`, the active one
    return text.lower() if language.startswith("pt") else text


def last_months(end: dt.date, count: int = 12) -> list[dt.date]:
    """The first days of the `count` months up to and including `end`'s, oldest first."""
    months = []
    year, month = end.year, end.month
    for _ in range(count):
        months.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def monthly_chart(
    rows: list[dict], *, series: dict[str, str], end: dt.date, count: int = 12, chart_id: str
) -> dict:
    """`rows` from selectors.totals_by_month; `series` maps a row key to its label.

    Returns labels, one dataset per series (values as plain decimal strings,
    never floats) and whether there is anything to draw.
    """
    by_month = {_month_of(row["month"]): row for row in rows}
    months = last_months(end, count)
    datasets = []
    for key, label in series.items():
        values = [by_month.get(m, {}).get(key, Decimal("0.00")) for m in months]
        datasets.append({"key": key, "label": str(label), "values": [f"{v:.2f}" for v in values]})
    return {
        "id": chart_id,
        "labels": [month_label(m) for m in months],
        "short_labels": [month_label(m, "M/y") for m in months],
        "datasets": datasets,
        "rows": [
            {
                "label": month_label(m),
                "values": [by_month.get(m, {}).get(key, Decimal("0.00")) for key in series],
            }
            for m in months
        ],  # fmt: skip
        "empty": not any(_month_of(row["month"]) in set(months) for row in rows),
    }


def _month_of(value) -> dt.date:
    # TruncMonth returns an aware datetime in the clinic's zone (a date on some backends).
    return dt.date(value.year, value.month, 1)
