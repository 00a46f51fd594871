"""Brazilian documents and PIX keys: what is accepted, its canonical form, and the masks."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import PixKeyType
from accounts.validators import (
    PIX_EMAIL_MAX_LENGTH,
    clean_birth_date,
    clean_cnpj,
    clean_cpf,
    clean_crm,
    clean_phone_e164,
    clean_pix_email,
    clean_pix_key,
    clean_random_key,
    format_pix_key,
    mask_cpf,
    mask_pix_key,
)

VALID_CPF = "52998224725"
RANDOM_KEY = "123e4567-e89b-12d3-a456-426614174000"


def _cnpj_check_digit(body: str) -> str:
    """One CNPJ check digit, computed independently of validate-docbr.

    Receita Federal's rule for the alphanumeric CNPJ: each character is worth
    ord(c) - 48 (so "0".."9" keep their value and "A" is 17), weighted 2..9
    from the right, cycling; modulo 11, a remainder below 2 gives 0.
    """
    weights = [2, 3, 4, 5, 6, 7, 8, 9]
    total = sum((ord(char) - 48) * weights[i % 8] for i, char in enumerate(reversed(body)))
    remainder = total % 11
    return "0" if remainder < 2 else str(11 - remainder)


def _cnpj_with_check_digits(base: str) -> str:
    first = _cnpj_check_digit(base)
    return base + first + _cnpj_check_digit(base + first)


def _refusal_code(cleaner, *args):
    with pytest.raises(ValidationError) as caught:
        cleaner(*args)
    return caught.value.code


def test_the_check_digit_helper_agrees_with_the_receita_published_examples():
    # Guards the helper itself, so the generated CNPJs below mean something.
    assert _cnpj_with_check_digits("112223330001") == "11222333000181"
    assert _cnpj_with_check_digits("12ABC34501DE") == "12ABC34501DE35"


# CPF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["52998224725", "529.982.247-25", " 529.982.247-25 ", "529 982 247 25"],
)
def test_a_valid_cpf_is_kept_as_eleven_digits_whatever_the_punctuation(typed):
    assert clean_cpf(typed) == VALID_CPF


@pytest.mark.parametrize(
    "typed",
    [
        "529.982.247-26",  # second check digit wrong
        "529.982.247-15",  # first check digit wrong
        "111.111.111-11",  # repeated digits pass the arithmetic but are not issued
        "00000000000",
        "5299822472",  # ten digits
        "529982247250",  # twelve digits
        "",
        None,
    ],
)
def test_an_invalid_cpf_is_refused(typed):
    assert _refusal_code(clean_cpf, typed) == "invalid_cpf"


# CNPJ --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("11.222.333/0001-81", "11222333000181"),
        ("11222333000181", "11222333000181"),
        ("12.ABC.345/01DE-35", "12ABC34501DE35"),
        ("12abc34501de35", "12ABC34501DE35"),
        ("  12.abc.345/01de-35 ", "12ABC34501DE35"),
    ],
)
def test_a_valid_cnpj_is_kept_as_fourteen_uppercase_characters(typed, canonical):
    assert clean_cnpj(typed) == canonical


@pytest.mark.parametrize("base", ["ABCDEFGHIJKL", "Z9Y8X7W6V5U4", "00000000000A", "MEDCONNECT01"])
def test_an_alphanumeric_cnpj_with_correct_check_digits_is_accepted(base):
    cnpj = _cnpj_with_check_digits(base)

    assert clean_cnpj(cnpj) == cnpj


@pytest.mark.parametrize("base", ["ABCDEFGHIJKL", "12ABC34501DE", "112223330001"])
def test_a_cnpj_with_any_other_check_digits_is_refused(base):
    good = _cnpj_with_check_digits(base)
    for digits in ("00", "19", "91", "99", good[::-1][:2]):
        if base + digits != good:
            assert _refusal_code(clean_cnpj, base + digits) == "invalid_cnpj"


@pytest.mark.parametrize(
    "typed",
    [
        "11.222.333/0001-82",  # wrong check digit
        "12.ABC.345/01DE-3A",  # check digits are always numbers
        "12ABC34501DE3",  # thirteen characters
        "12ABC34501DE350",  # fifteen characters
        "00000000000000",  # repeated characters
        "12*ABC*345*01DE*35",  # punctuation that is not a CNPJ's
        "12ÁBC34501DE35",  # accented letter
        "",
        None,
    ],
)
def test_an_invalid_cnpj_is_refused(typed):
    assert _refusal_code(clean_cnpj, typed) == "invalid_cnpj"


# PIX e-mail --------------------------------------------------------------------------------


def _email_of_length(length: int) -> str:
    domain = "@clinica-exemplo.com.br"
    return "a" * (length - len(domain)) + domain


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Maria.Souza@Example.COM", "maria.souza@example.com"),
        ("  joao@example.com  ", "joao@example.com"),
    ],
)
def test_a_pix_email_is_stored_lowercase_and_trimmed(typed, canonical):
    assert clean_pix_email(typed) == canonical


def test_a_pix_email_of_exactly_77_characters_is_accepted():
    email = _email_of_length(PIX_EMAIL_MAX_LENGTH)

    assert PIX_EMAIL_MAX_LENGTH == 77
    assert clean_pix_email(email) == email


def test_a_pix_email_of_78_characters_is_refused():
    assert _refusal_code(clean_pix_email, _email_of_length(78)) == "invalid_pix_email"


@pytest.mark.parametrize(
    "typed", ["maria", "maria@", "@example.com", "maria@@example.com", "ma ria@example.com", ""]
)
def test_a_malformed_pix_email_is_refused(typed):
    assert _refusal_code(clean_pix_email, typed) == "invalid_pix_email"


# Phone -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("(11) 98765-4321", "+5511987654321"),
        ("11 98765-4321", "+5511987654321"),
        ("11987654321", "+5511987654321"),
        ("+55 11 98765-4321", "+5511987654321"),
        ("+55 (11) 98765-4321", "+5511987654321"),
        ("5511987654321", "+5511987654321"),
        ("(21) 3456-7890", "+552134567890"),  # landline, eight digits
        ("55 21 3456-7890", "+552134567890"),
        ("(55) 98765-4321", "+5555987654321"),  # DDD 55 (Santa Maria) is not the country code
        ("(99) 98765-4321", "+5599987654321"),
    ],
)
def test_a_brazilian_phone_becomes_e164_with_country_and_area_code(typed, canonical):
    assert clean_phone_e164(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "(10) 98765-4321",  # an area code never contains a zero
        "(01) 98765-4321",
        "(00) 98765-4321",
        "+55 20 98765-4321",
        "98765-4321",  # no area code
        "(11) 9876-543",  # too short
        "(11) 98765-43210",  # too long
        "(11) 88765-4321",  # nine digits must start with 9
        "(11) 1234-5678",  # eight digits cannot start with 1 (or 0, or 9)
        "(11) 9234-5678",
        "+1 212 555 1234",  # not Brazil
        "+44 20 7946 0958",
        "",
        None,
    ],
)
def test_a_phone_that_is_not_brazilian_e164_is_refused(typed):
    assert _refusal_code(clean_phone_e164, typed) == "invalid_phone"


# Random key --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        RANDOM_KEY,
        RANDOM_KEY.upper(),
        f"  {RANDOM_KEY}  ",
        "{" + RANDOM_KEY + "}",
    ],
)
def test_a_random_key_is_stored_as_a_canonical_lowercase_uuid(typed):
    assert clean_random_key(typed) == RANDOM_KEY


@pytest.mark.parametrize(
    "typed",
    [
        RANDOM_KEY.replace("-", ""),  # a UUID, but not as the DICT writes it
        f"urn:uuid:{RANDOM_KEY}",
        RANDOM_KEY[:-1],
        RANDOM_KEY + "0",
        RANDOM_KEY.replace("a", "g"),
        "123e4567-e89b-12d3-a456",
        "",
        None,
    ],
)
def test_anything_but_a_hyphenated_uuid_is_refused_as_a_random_key(typed):
    assert _refusal_code(clean_random_key, typed) == "invalid_random_key"


# Dispatch ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_type", "typed", "canonical"),
    [
        (PixKeyType.CPF, "529.982.247-25", VALID_CPF),
        (PixKeyType.CNPJ, "12.abc.345/01de-35", "12ABC34501DE35"),
        (PixKeyType.EMAIL, "Maria@Example.com", "maria@example.com"),
        (PixKeyType.PHONE, "(11) 98765-4321", "+5511987654321"),
        (PixKeyType.RANDOM, RANDOM_KEY.upper(), RANDOM_KEY),
        ("cpf", "529.982.247-25", VALID_CPF),  # forms post the plain value
    ],
)
def test_a_pix_key_is_cleaned_by_the_rule_of_its_declared_type(key_type, typed, canonical):
    assert clean_pix_key(key_type, typed) == canonical


@pytest.mark.parametrize(
    ("key_type", "typed", "code"),
    [
        # A valid key of another type is judged by the declared type's rule.
        (PixKeyType.CPF, "11.222.333/0001-81", "invalid_cpf"),
        (PixKeyType.CNPJ, "529.982.247-25", "invalid_cnpj"),
        (PixKeyType.EMAIL, "(11) 98765-4321", "invalid_pix_email"),
        (PixKeyType.PHONE, "maria@example.com", "invalid_phone"),
        (PixKeyType.RANDOM, "529.982.247-25", "invalid_random_key"),
    ],
)
def test_a_pix_key_is_refused_when_it_does_not_match_its_declared_type(key_type, typed, code):
    assert _refusal_code(clean_pix_key, key_type, typed) == code


@pytest.mark.parametrize("key_type", ["evp", "CPF", "", None, "telefone"])
def test_an_unknown_pix_key_type_is_refused(key_type):
    assert _refusal_code(clean_pix_key, key_type, "529.982.247-25") == "invalid_pix_type"


# Masks and display -------------------------------------------------------------------------


def test_a_cpf_is_masked_showing_only_the_middle_six_digits():
    assert mask_cpf(VALID_CPF) == "***.982.247-**"


@pytest.mark.parametrize("cpf", ["", "5299822472", "529982247250"])
def test_something_that_is_not_a_stored_cpf_masks_to_nothing(cpf):
    assert mask_cpf(cpf) == ""


@pytest.mark.parametrize(
    ("key_type", "key", "masked"),
    [
        (PixKeyType.CPF, VALID_CPF, "***.982.247-**"),
        (PixKeyType.CNPJ, "11222333000181", "11.222.***/****-81"),
        (PixKeyType.CNPJ, "12ABC34501DE35", "12.ABC.***/****-35"),
        (PixKeyType.EMAIL, "maria.souza@example.com", "m***@example.com"),
        (PixKeyType.PHONE, "+5511987654321", "+55 (11) *****-4321"),
        (PixKeyType.RANDOM, RANDOM_KEY, "123e****-****-****-****-********4000"),
    ],
)
def test_a_pix_key_is_masked_according_to_its_type(key_type, key, masked):
    assert mask_pix_key(key_type, key) == masked


def test_a_masked_random_key_keeps_the_shape_of_a_uuid():
    masked = mask_pix_key(PixKeyType.RANDOM, RANDOM_KEY)

    assert [len(group) for group in masked.split("-")] == [8, 4, 4, 4, 12]


@pytest.mark.parametrize(
    ("key_type", "key"),
    [
        (PixKeyType.CPF, VALID_CPF),
        (PixKeyType.CNPJ, "11222333000181"),
        (PixKeyType.EMAIL, "maria.souza@example.com"),
        (PixKeyType.PHONE, "+5511987654321"),
        (PixKeyType.RANDOM, RANDOM_KEY),
    ],
)
def test_a_masked_pix_key_hides_most_of_the_key(key_type, key):
    masked = mask_pix_key(key_type, key)

    assert masked != key
    assert key not in masked
    assert "*" in masked


@pytest.mark.parametrize("key_type", list(PixKeyType))
def test_an_empty_pix_key_masks_to_nothing(key_type):
    assert mask_pix_key(key_type, "") == ""


@pytest.mark.parametrize(
    ("key_type", "key", "shown"),
    [
        (PixKeyType.CPF, VALID_CPF, "529.982.247-25"),
        (PixKeyType.CNPJ, "11222333000181", "11.222.333/0001-81"),
        (PixKeyType.CNPJ, "12ABC34501DE35", "12.ABC.345/01DE-35"),
        (PixKeyType.EMAIL, "maria@example.com", "maria@example.com"),
        (PixKeyType.PHONE, "+5511987654321", "+5511987654321"),
        (PixKeyType.RANDOM, RANDOM_KEY, RANDOM_KEY),
    ],
)
def test_a_pix_key_is_formatted_as_a_person_types_it_into_a_bank_app(key_type, key, shown):
    assert format_pix_key(key_type, key) == shown


@pytest.mark.parametrize(
    ("key_type", "typed"),
    [
        (PixKeyType.CPF, "529 982 247 25"),
        (PixKeyType.CNPJ, "12 abc 345 01de 35"),
        (PixKeyType.PHONE, "(11) 98765-4321"),
        (PixKeyType.RANDOM, RANDOM_KEY.upper()),
    ],
)
def test_a_formatted_pix_key_cleans_back_to_the_same_canonical_key(key_type, typed):
    canonical = clean_pix_key(key_type, typed)

    assert clean_pix_key(key_type, format_pix_key(key_type, canonical)) == canonical


# --- CRM and birth date ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [("123456", "123456"), (" 52345 ", "52345"), ("777", "777"), ("1234567", "1234567"),
     ("0123456", "123456"), ("1", "1")],
)  # fmt: skip
def test_a_crm_is_kept_as_its_digits_without_leading_zeros(typed, canonical):
    assert clean_crm(typed) == canonical


@pytest.mark.parametrize(
    "typed", ["0", "000", "", "12345678", "12.345", "12345-6", "CRM123", "١٢٣٤", "12 345"]
)
def test_a_crm_that_is_not_a_registration_number_is_refused(typed):
    assert _refusal_code(clean_crm, typed) == "invalid_crm"


def test_a_birth_date_from_today_back_to_130_years_is_accepted():
    today = timezone.localdate()
    oldest = today.replace(year=today.year - 130)
    for born in (today, oldest, dt.date(1950, 6, 1)):
        assert clean_birth_date(born) == born


def test_a_birth_date_in_the_future_is_refused():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert _refusal_code(clean_birth_date, tomorrow) == "future"


@pytest.mark.parametrize("born", [dt.date(1800, 1, 1), dt.date(1890, 5, 17)])
def test_a_birth_date_more_than_130_years_ago_is_refused(born):
    assert _refusal_code(clean_birth_date, born) == "too_old"


def test_the_day_before_130_years_ago_is_refused():
    today = timezone.localdate()
    born = today.replace(year=today.year - 130) - dt.timedelta(days=1)
    assert _refusal_code(clean_birth_date, born) == "too_old"
