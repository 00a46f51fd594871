"""What the rate forms make of what people type: each case pinned to a value or an error code."""

from decimal import Decimal

import pytest

from billing.forms import BillingSettingsForm, DoctorRateForm, RateHistoryFilterForm
from billing.models import BillingSettings

VALID = {"consultation_fee": "150,00", "platform_percentage": "30", "min_billable_seconds": "0"}


def clean_field(name: str, text: str):
    """The cleaned value of one field of the defaults form, or the codes of its errors."""
    form = BillingSettingsForm(data={**VALID, name: text})
    if form.is_valid():
        return form.cleaned_data[name]
    assert list(form.errors) == [name], form.errors
    return [error.code for error in form.errors.as_data()[name]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", Decimal("1234.56")),
        ("150", Decimal("150.00")),
        ("150,5", Decimal("150.50")),
        ("R$ 150,00", Decimal("150.00")),
        ("R$\u00a0150,00", Decimal("150.00")),
        ("r$150", Decimal("150.00")),
        ("150.50", Decimal("150.50")),
        (" 180,00 ", Decimal("180.00")),
        ("0,01", Decimal("0.01")),
        ("100.000,00", Decimal("100000.00")),
        ("NaN", ["invalid"]),
        ("nan", ["invalid"]),
        ("Infinity", ["invalid"]),
        ("-Infinity", ["negative"]),
        ("1e3", ["invalid"]),
        ("-5", ["negative"]),
        ("-150,00", ["negative"]),
        ("", ["required"]),
        ("   ", ["required"]),
        ("R$", ["required"]),
        ("1.234", ["ambiguous"]),
        ("0", ["not_positive"]),
        ("0,00", ["not_positive"]),
        ("100000,01", ["too_large"]),
        ("100.000,01", ["too_large"]),
        ("150,555", ["ambiguous"]),
        ("150.555", ["ambiguous"]),
        ("1,234.56", ["invalid"]),
        ("150,00%", ["invalid"]),
        ("cento e cinquenta", ["invalid"]),
        ("9" * 40, ["too_large"]),
    ],
)
def test_the_fee_is_read_the_brazilian_way_or_refused(text, expected):
    assert clean_field("consultation_fee", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30", Decimal("30.00")),
        ("30%", Decimal("30.00")),
        ("30 %", Decimal("30.00")),
        ("33,33", Decimal("33.33")),
        ("33.33", Decimal("33.33")),
        ("12,5 %", Decimal("12.50")),
        ("0", Decimal("0.00")),
        ("100", Decimal("100.00")),
        ("100,00", Decimal("100.00")),
        ("100,01", ["too_large"]),
        ("101", ["too_large"]),
        ("33,333", ["ambiguous"]),
        ("-1", ["negative"]),
        ("NaN", ["invalid"]),
        ("Infinity", ["invalid"]),
        ("1e1", ["invalid"]),
        ("", ["required"]),
        ("%", ["required"]),
        ("30%%", ["invalid"]),
    ],
)
def test_the_share_is_a_percentage_from_0_to_100(text, expected):
    assert clean_field("platform_percentage", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("90", 90),
        ("90 s", 90),
        (" 120 ", 120),
        ("3600", 3600),
        ("3601", ["too_large"]),
        ("9" * 40, ["too_large"]),
        ("-1", ["negative"]),
        ("1,5", ["invalid"]),
        ("1.5", ["invalid"]),
        ("1e3", ["invalid"]),
        ("NaN", ["invalid"]),
        ("١٢", ["invalid"]),  # Arabic-Indic digits: int() reads them, people here do not
        ("", ["required"]),
    ],
)
def test_the_minimum_time_is_a_whole_number_of_seconds(text, expected):
    assert clean_field("min_billable_seconds", text) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"consultation_fee": "", "platform_percentage": ""}, (None, None)),
        ({"consultation_fee": "200", "platform_percentage": ""}, (Decimal("200.00"), None)),
        ({"consultation_fee": " ", "platform_percentage": "25 %"}, (None, Decimal("25.00"))),
        ({}, (None, None)),
    ],
)
def test_a_doctors_empty_field_means_the_clinic_default(data, expected):
    form = DoctorRateForm(data=data, clinic=BillingSettings.load())

    assert form.is_valid(), form.errors
    assert (form.cleaned_data["consultation_fee"], form.cleaned_data["platform_percentage"]) == (
        expected
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"consultation_fee": "0"}, "consultation_fee", "not_positive"),
        ({"consultation_fee": "1.234"}, "consultation_fee", "ambiguous"),
        ({"consultation_fee": "NaN"}, "consultation_fee", "invalid"),
        ({"platform_percentage": "100,01"}, "platform_percentage", "too_large"),
        ({"platform_percentage": "-5"}, "platform_percentage", "negative"),
    ],
)
def test_a_doctors_rate_is_checked_like_the_defaults(data, field, code):
    form = DoctorRateForm(data=data, clinic=BillingSettings.load())

    assert not form.is_valid()
    assert [e.code for e in form.errors.as_data()[field]] == [code]


@pytest.mark.django_db
def test_the_doctor_form_shows_the_clinic_default_as_placeholder_and_help():
    form = DoctorRateForm(clinic=BillingSettings.load())
    html = str(form["consultation_fee"]) + str(form["platform_percentage"])

    assert 'placeholder="Padrão: 150,00"' in html
    assert 'placeholder="Padrão: 30"' in html
    assert 'inputmode="decimal"' in html
    assert form.fields["consultation_fee"].help_text == (
        "Padrão da clínica: R$\u00a0150,00. Deixe em branco para usar o padrão."
    )


def test_initial_values_are_shown_the_brazilian_way():
    form = BillingSettingsForm(
        initial={
            "consultation_fee": Decimal("1234.50"),
            "platform_percentage": Decimal("33.30"),
            "min_billable_seconds": 90,
        }
    )

    assert 'value="1.234,50"' in str(form["consultation_fee"])
    assert 'value="33,3"' in str(form["platform_percentage"])
    assert 'value="90"' in str(form["min_billable_seconds"])
    assert 'type="text"' in str(form["consultation_fee"])


def test_a_refused_value_is_shown_back_as_typed():
    form = BillingSettingsForm(data={**VALID, "consultation_fee": "1.234"})

    assert not form.is_valid()
    assert 'value="1.234"' in str(form["consultation_fee"])
    assert "“1.234” pode ser lido de duas formas" in form.errors["consultation_fee"][0]


class _Doctor:
    def __init__(self, pk):
        self.pk = pk


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", None),
        ("doctor=", None),
        ("doctor=7", 7),
        ("doctor=%207%20", 7),
        ("doctor=8", "unknown"),
        ("doctor=abc", "unknown"),
        ("doctor=-7", "unknown"),
        ("doctor=7.0", "unknown"),
        ("doctor=" + "9" * 30, "unknown"),
        ("doctor=7&doctor=7", "repeated"),
        ("doctor=7&doctor=8", "repeated"),
    ],
)
def test_the_history_filter_takes_one_known_doctor(rf, query, expected):
    form = RateHistoryFilterForm(rf.get("/?" + query).GET, doctors=[_Doctor(7)])

    if expected is None or isinstance(expected, int):
        assert form.is_valid(), form.errors
        doctor = form.cleaned_data["doctor"]
        assert (doctor.pk if doctor else None) == expected
    else:
        assert not form.is_valid()
        assert [e.code for e in form.errors.as_data()["doctor"]] == [expected]
