"""Money read the Brazilian way, split once, formatted R$ 1.234,56: every case pinned."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from billing.money import format_brl, format_percentage, parse_amount, split

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("150", "150.00"),
        ("150,5", "150.50"),
        ("R$ 150,00", "150.00"),
        ("R$150", "150.00"),
        ("r$ 150,00", "150.00"),
        ("150.50", "150.50"),
        ("150.5", "150.50"),
        (" 150 ", "150.00"),
        ("1.234.567,89", "1234567.89"),
        ("0,01", "0.01"),
        ("1234,56", "1234.56"),
        (f"R${NBSP}1.234,56", "1234.56"),  # what format_brl prints, pasted back
        (f"{NBSP}150,00{NBSP}", "150.00"),
        (150, "150.00"),
        (Decimal("150.5"), "150.50"),
    ],
)
def test_amounts_people_type_are_read_as_they_meant(text, expected):
    value = parse_amount(text)

    assert value == Decimal(expected)
    assert value.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("NaN", "invalid"),
        ("nan", "invalid"),
        ("Infinity", "invalid"),
        ("inf", "invalid"),
        ("1e3", "invalid"),
        ("-5", "negative"),
        ("-0,01", "negative"),
        ("R$ -5,00", "negative"),
        ("", "required"),
        ("   ", "required"),
        (NBSP, "required"),
        ("R$", "required"),
        ("1.234", "ambiguous"),
        ("1.000", "ambiguous"),
        ("1,2,3", "invalid"),
        ("12,345", "ambiguous"),
        ("150.505", "ambiguous"),  # three digits after a lone dot: thousands or decimals?
        ("1.23.4", "invalid"),
        ("1.2345", "invalid"),
        ("12.34,5", "invalid"),
        ("150,", "invalid"),
        ("abc", "invalid"),
        ("+5", "invalid"),
        (1.5, "invalid"),
        (True, "invalid"),
        (None, "invalid"),
        (Decimal("NaN"), "invalid"),
        (Decimal("1E+3"), "invalid"),
    ],
)
def test_anything_that_is_not_a_plain_amount_is_refused_with_its_reason(text, code):
    with pytest.raises(ValidationError) as refused:
        parse_amount(text)

    assert refused.value.code == code


def test_a_percentage_may_carry_its_sign():
    assert parse_amount("33,33 %", suffix="%") == Decimal("33.33")
    assert parse_amount("30%", suffix="%") == Decimal("30.00")
    with pytest.raises(ValidationError):
        parse_amount("30 %")  # only where a percentage is asked for


# --- The split --------------------------------------------------------------


@pytest.mark.parametrize(
    ("gross", "percentage", "clinic", "doctor"),
    [
        ("10.05", "30", "3.02", "7.03"),
        ("150.15", "30", "45.05", "105.10"),
        ("99.99", "50", "50.00", "49.99"),
        ("0.01", "30", "0.00", "0.01"),
        ("100.00", "33.33", "33.33", "66.67"),
        ("150.00", "30.00", "45.00", "105.00"),
        ("150.00", "0", "0.00", "150.00"),
        ("150.00", "100", "150.00", "0.00"),
    ],
)
def test_the_split_rounds_the_clinic_part_half_up_once(gross, percentage, clinic, doctor):
    assert split(Decimal(gross), Decimal(percentage)) == (Decimal(clinic), Decimal(doctor))


cents = st.integers(min_value=1, max_value=10_000_000).map(lambda n: Decimal(n).scaleb(-2))
shares = st.integers(min_value=0, max_value=10_000).map(lambda n: Decimal(n).scaleb(-2))


@given(gross=cents, percentage=shares)
def test_the_parts_always_add_up_to_the_gross(gross, percentage):
    clinic, doctor = split(gross, percentage)

    assert clinic + doctor == gross
    assert clinic.as_tuple().exponent == doctor.as_tuple().exponent == -2
    assert clinic >= 0 and doctor >= 0
    assert isinstance(clinic, Decimal) and isinstance(doctor, Decimal)


@pytest.mark.parametrize(
    ("gross", "percentage"),
    [(150.0, Decimal("30")), (Decimal("150.00"), 30.0), (150, Decimal("30")), ("150", "30")],
)
def test_the_split_refuses_anything_but_decimal(gross, percentage):
    with pytest.raises(TypeError):
        split(gross, percentage)


# --- Formatting --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1234.56", f"R${NBSP}1.234,56"),
        ("0", f"R${NBSP}0,00"),
        ("0.5", f"R${NBSP}0,50"),
        ("150", f"R${NBSP}150,00"),
        ("1234567.89", f"R${NBSP}1.234.567,89"),
        ("100000.00", f"R${NBSP}100.000,00"),
        ("0.005", f"R${NBSP}0,01"),
        ("-5", f"-R${NBSP}5,00"),
    ],
)
def test_money_reads_the_brazilian_way(value, text):
    assert format_brl(Decimal(value)) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("30", f"30{NBSP}%"),
        ("30.00", f"30{NBSP}%"),
        ("33.33", f"33,33{NBSP}%"),
        ("12.5", f"12,5{NBSP}%"),
        ("0", f"0{NBSP}%"),
        ("100.00", f"100{NBSP}%"),
    ],
)
def test_percentages_drop_trailing_zeros_and_use_a_comma(value, text):
    assert format_percentage(Decimal(value)) == text


@given(value=cents)
def test_what_is_printed_reads_back_as_the_same_amount(value):
    assert parse_amount(format_brl(value)) == value


@pytest.mark.parametrize("digits", [26, 27, 40, 400])
def test_a_very_long_number_is_read_not_crashed_on(digits):
    # The forms refuse it by its size, with their message; reading it must not raise.
    assert parse_amount("9" * digits) == Decimal("9" * digits)
    assert parse_amount("9" * digits + ",99").as_tuple().exponent == -2
    assert parse_amount("9" * digits + ".5") == Decimal("9" * digits + ".50")


typed = st.text(alphabet=st.sampled_from("0123456789.,R$ -+eE%\u00a0\u0661x"), max_size=40)


@given(text=typed | st.text(max_size=40))
def test_whatever_is_typed_is_read_or_refused_never_crashed_on(text):
    try:
        value = parse_amount(text, suffix="%")
    except ValidationError as refused:
        assert refused.code in {"required", "negative", "invalid", "ambiguous", "decimal_places"}
    else:
        assert isinstance(value, Decimal) and value.is_finite() and value >= 0
        assert value.as_tuple().exponent == -2


def test_a_share_is_refused_in_its_own_words_and_never_read_as_reais():
    with pytest.raises(ValidationError) as ambiguous:
        parse_amount("1.234", suffix="%")
    assert ambiguous.value.code == "ambiguous"
    assert "reais" not in str(ambiguous.value.messages) and "33,33" in str(ambiguous.value.messages)
    with pytest.raises(ValidationError) as currency:
        parse_amount("R$ 30", suffix="%")
    assert currency.value.code == "invalid" and "33,33" in str(currency.value.messages)
    assert parse_amount("33,33 %", suffix="%") == Decimal("33.33")


@pytest.mark.parametrize("typed", ["١٥٠", "１５０", "1,234"])
def test_digits_of_other_scripts_and_the_comma_before_three_digits_are_refused(typed):
    with pytest.raises(ValidationError) as refused:
        parse_amount(typed)
    assert refused.value.code in {"invalid", "ambiguous"}
