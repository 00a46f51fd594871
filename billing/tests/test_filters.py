"""The period and doctor of a report, read from the address: every bad value is a
message and the default period, never an exception."""

import datetime as dt

import pytest
from django.http import QueryDict
from django.utils import translation

from billing.filters import MonthForm, Period, PeriodForm, RevenueForm

TODAY = dt.date(2026, 10, 15)
OCTOBER = Period.of_month(dt.date(2026, 10, 1))


def _form(cls, query: str):
    return cls(QueryDict(query), today=TODAY)


@pytest.mark.parametrize(
    ("query", "period", "code"),
    [
        ("", OCTOBER, None),
        ("month=2026-07", Period.of_month(dt.date(2026, 7, 1)), None),
        ("month=2000-01", Period.of_month(dt.date(2000, 1, 1)), None),
        ("month=2027-12", Period.of_month(dt.date(2027, 12, 1)), None),
        ("month=+2026-07+", Period.of_month(dt.date(2026, 7, 1)), None),
        ("month=2026-13", OCTOBER, "invalid_month"),
        ("month=2026-00", OCTOBER, "invalid_month"),
        ("month=2026-7", OCTOBER, "invalid_month"),
        ("month=../", OCTOBER, "invalid_month"),
        ("month=..%2F..%2Fetc", OCTOBER, "invalid_month"),
        ("month=2026-10-01", OCTOBER, "invalid_month"),
        ("month=%00", OCTOBER, "null_characters_not_allowed"),
        ("month=" + "9" * 500, OCTOBER, "invalid_month"),
        ("month=9999-01", OCTOBER, "month_out_of_range"),
        ("month=0000-01", OCTOBER, "month_out_of_range"),
        ("month=%D9%A2%D9%A0%D9%A2%D9%A6-10", OCTOBER, "invalid_month"),
        ("month=1999-12", OCTOBER, "month_out_of_range"),
        ("month=2028-01", OCTOBER, "month_out_of_range"),
        ("month=2026-07&month=2026-08", OCTOBER, "repeated"),
    ],
)
def test_month_form(query, period, code):
    form = _form(MonthForm, query)
    assert form.period == period
    if code is None:
        assert form.is_valid(), form.errors
        assert form.problems == []
    else:
        assert not form.is_valid()
        assert code in [e.code for errors in form.errors.as_data().values() for e in errors]
        assert form.problems, "the page must say what was wrong"


@pytest.mark.parametrize(
    ("query", "period", "code"),
    [
        (
            "start=2026-01-01&end=2026-03-31",
            Period(dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
            None,
        ),
        ("start=2026-05-05&end=2026-05-05", Period(dt.date(2026, 5, 5), dt.date(2026, 5, 5)), None),
        (
            "start=2021-10-15&end=2026-10-15",
            Period(dt.date(2021, 10, 15), dt.date(2026, 10, 15)),
            None,
        ),
        # A range wins over a month given with it.
        (
            "month=2026-02&start=2026-01-01&end=2026-01-31",
            Period(dt.date(2026, 1, 1), dt.date(2026, 1, 31)),
            None,
        ),
        ("start=2026-03-31&end=2026-01-01", OCTOBER, "inverted_range"),
        ("start=2021-10-14&end=2026-10-15", OCTOBER, "range_too_long"),
        ("start=2000-01-01&end=2027-12-31", OCTOBER, "range_too_long"),
        ("start=2026-01-01", OCTOBER, "half_range"),
        ("end=2026-01-01", OCTOBER, "half_range"),
        ("start=2026-02-30&end=2026-03-01", OCTOBER, "invalid"),
        ("start=01/02/2026&end=2026-03-01", OCTOBER, "invalid"),
        ("start=../&end=2026-03-01", OCTOBER, "invalid"),
        ("start=9999-01-01&end=9999-01-02", OCTOBER, "date_out_of_range"),
        ("start=1990-01-01&end=1990-01-02", OCTOBER, "date_out_of_range"),
        ("start=2026-01-01&start=2026-02-01&end=2026-03-01", OCTOBER, "repeated"),
        ("month=2026-13&start=2026-01-01&end=2026-01-31", OCTOBER, "invalid_month"),
    ],
)
def test_period_form(query, period, code):
    form = _form(PeriodForm, query)
    assert form.period == period
    if code is None:
        assert form.is_valid(), form.errors
    else:
        assert not form.is_valid()
        assert code in [e.code for errors in form.errors.as_data().values() for e in errors]
        assert form.problems


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expect_doctor", "period", "code"),
    [
        ("doctor={doctor}", True, OCTOBER, None),
        ("doctor={doctor}&month=2026-07", True, Period.of_month(dt.date(2026, 7, 1)), None),
        ("doctor=", False, OCTOBER, None),
        ("doctor=abc", False, OCTOBER, "invalid_choice"),
        ("doctor=999999", False, OCTOBER, "invalid_choice"),
        ("doctor={patient}", False, OCTOBER, "invalid_choice"),
        ("doctor=1.5", False, OCTOBER, "invalid_choice"),
        ("doctor={doctor}&doctor={doctor}", False, OCTOBER, "repeated"),
        # A bad doctor keeps a good period; a bad period keeps nothing but the default.
        ("doctor=abc&month=2026-07", False, Period.of_month(dt.date(2026, 7, 1)), "invalid_choice"),
        (
            "doctor=abc&start=2026-01-01&end=2026-01-31",
            False,
            Period(dt.date(2026, 1, 1), dt.date(2026, 1, 31)),
            "invalid_choice",
        ),
        ("doctor={doctor}&month=2026-13", False, OCTOBER, "invalid_month"),
    ],
)
def test_revenue_form(doctor, patient, query, expect_doctor, period, code):
    form = _form(RevenueForm, query.format(doctor=doctor.pk, patient=patient.pk))
    assert form.period == period
    assert form.doctor_choice == (doctor if expect_doctor else None)
    if code is None:
        assert form.is_valid(), form.errors
    else:
        assert code in [e.code for errors in form.errors.as_data().values() for e in errors]
        assert form.problems


def test_a_period_knows_its_local_bounds_label_and_address():
    october = OCTOBER
    start, end = october.bounds
    assert (start.isoformat(), end.isoformat()) == (
        "2026-10-01T00:00:00-03:00",
        "2026-11-01T00:00:00-03:00",
    )
    assert october.params == {"month": "2026-10"}
    assert october.label == "outubro de 2026"
    assert october.slug == "2026-10"
    assert (october.previous_month, october.next_month) == (
        dt.date(2026, 9, 1),
        dt.date(2026, 11, 1),
    )
    december = Period.of_month(dt.date(2026, 12, 1))
    assert december.next_month == dt.date(2027, 1, 1)
    assert december.last == dt.date(2026, 12, 31)

    days = Period(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    start, end = days.bounds
    assert end - start == dt.timedelta(days=31)
    assert end.isoformat() == "2026-02-01T00:00:00-03:00"
    assert days.query == "start=2026-01-01&end=2026-01-31"
    assert days.label == "01/01/2026 a 31/01/2026"
    assert days.slug == "2026-01-01_2026-01-31"
    assert days.previous_month is None


def test_the_month_picker_offers_five_years_in_the_pages_language():
    from billing.filters import month_choices

    choices = month_choices(today=TODAY, selected=dt.date(2026, 10, 1))
    assert len(choices) == 60
    assert choices[0] == ("2026-10", "outubro de 2026", True)
    assert choices[-1] == ("2021-11", "novembro de 2021", False)
    assert sum(selected for _value, _label, selected in choices) == 1
    older = month_choices(today=TODAY, selected=dt.date(2001, 3, 1))
    assert older[-1] == ("2001-03", "março de 2001", True) and len(older) == 61


def test_the_month_picker_and_labels_follow_the_language_of_each_request():
    """Both are cached: by language too, or one request's language leaks into the next."""
    from billing.charts import month_label
    from billing.filters import month_choices

    for _ in range(2):
        with translation.override("en"):
            english = month_choices(today=TODAY, selected=None)
            assert month_label(dt.date(2026, 3, 1)) == "March 2026"
        with translation.override("pt-br"):
            portuguese = month_choices(today=TODAY, selected=None)
            assert month_label(dt.date(2026, 3, 1)) == "março de 2026"
        assert (english[0][1], portuguese[0][1]) == ("October 2026", "outubro de 2026")
