"""Chart data: every one of the last months present, values as decimal strings, never floats."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from billing.charts import last_months, monthly_chart
from billing.models import BillingRecord
from billing.selectors import totals_by_month

from .factories import BillingRecordFactory

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
SERIES = {"gross": "Gross", "platform": "Clinic share"}


def month(year, number):
    return dt.datetime(year, number, 1, tzinfo=SAO_PAULO)


def test_the_last_months_cross_the_year_oldest_first():
    assert last_months(dt.date(2026, 2, 28), 4) == [
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 1),
    ]


def test_twelve_months_by_default_ending_with_the_given_one():
    months = last_months(dt.date(2026, 12, 31))

    assert len(months) == 12
    assert (months[0], months[-1]) == (dt.date(2026, 1, 1), dt.date(2026, 12, 1))
    assert last_months(dt.date(2027, 1, 1))[0] == dt.date(2026, 2, 1)
    assert last_months(dt.date(2026, 5, 5), 1) == [dt.date(2026, 5, 1)]
    assert len(last_months(dt.date(2026, 5, 5), 30)) == 30
    assert last_months(dt.date(2026, 5, 5), 30)[0] == dt.date(2023, 12, 1)


def test_months_with_nothing_billed_are_zeros():
    rows = [
        {"month": month(2025, 12), "gross": Decimal("150.00"), "platform": Decimal("45.00")},
        {"month": month(2026, 2), "gross": Decimal("1234.5"), "platform": Decimal("370.35")},
    ]

    chart = monthly_chart(rows, series=SERIES, end=dt.date(2026, 2, 10), count=4, chart_id="c")

    gross, platform = chart["datasets"]
    assert chart["id"] == "c"
    assert (gross["key"], gross["label"]) == ("gross", "Gross")
    assert gross["values"] == ["0.00", "150.00", "0.00", "1234.50"]
    assert platform["values"] == ["0.00", "45.00", "0.00", "370.35"]
    assert [row["values"] for row in chart["rows"]] == [
        [Decimal("0.00"), Decimal("0.00")],
        [Decimal("150.00"), Decimal("45.00")],
        [Decimal("0.00"), Decimal("0.00")],
        [Decimal("1234.5"), Decimal("370.35")],
    ]
    assert len(chart["labels"]) == len(chart["short_labels"]) == len(chart["rows"]) == 4
    assert chart["empty"] is False


def test_values_are_strings_with_two_decimals_never_floats():
    rows = [{"month": month(2026, 1), "gross": Decimal("1E+3"), "platform": Decimal("0.1")}]

    chart = monthly_chart(rows, series=SERIES, end=dt.date(2026, 1, 1), count=1, chart_id="c")

    values = [value for dataset in chart["datasets"] for value in dataset["values"]]
    assert values == ["1000.00", "0.10"]
    assert all(isinstance(value, str) for value in values)


def test_labels_are_the_months_in_the_active_language():
    rows = []
    with translation.override("pt-br"):
        chart = monthly_chart(rows, series=SERIES, end=dt.date(2026, 1, 1), count=2, chart_id="c")

    assert [label.lower() for label in chart["labels"]] == ["dezembro de 2025", "janeiro de 2026"]
    assert [row["label"] for row in chart["rows"]] == chart["labels"]


@pytest.mark.parametrize(
    "rows",
    [[], [{"month": month(2024, 1), "gross": Decimal("150.00"), "platform": Decimal("45.00")}]],
)
def test_nothing_in_the_months_shown_is_an_empty_chart(rows):
    chart = monthly_chart(rows, series=SERIES, end=dt.date(2026, 6, 1), chart_id="c")

    assert chart["empty"] is True
    assert all(value == "0.00" for dataset in chart["datasets"] for value in dataset["values"])
    assert len(chart["labels"]) == 12


@pytest.mark.django_db
def test_the_database_months_land_in_their_local_month():
    # 23:30 on 31 October in São Paulo: October's bar, on either database.
    BillingRecordFactory(ended=dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC))
    BillingRecordFactory(ended=dt.datetime(2026, 11, 1, 3, 30, tzinfo=dt.UTC))
    BillingRecordFactory(ended=dt.datetime(2026, 11, 1, 3, 30, tzinfo=dt.UTC))

    chart = monthly_chart(
        totals_by_month(BillingRecord.objects.all()),
        series={"gross": "Gross"},
        end=dt.date(2026, 11, 1),
        count=3,
        chart_id="c",
    )

    assert chart["datasets"][0]["values"] == ["0.00", "150.00", "300.00"]
