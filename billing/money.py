"""Money and percentages: read the Brazilian way, split once, never through a float.

An amount typed by a person is read strictly: "1.234,56", "150", "150,5",
"R$ 150,00" and "150.50" are understood; anything that could be read two ways
("1.234": one thousand two hundred and thirty-four, or one point two three
four?) or is not a plain amount ("NaN", "1e3", "-5") is refused with a message
that says why, never guessed.
"""

import re
from decimal import ROUND_HALF_UP, Context, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

CENT = Decimal("0.01")
HUNDRED = Decimal("100")

# Digits with a decimal comma; dots only as thousands separators, in groups of three.
_BRAZILIAN = re.compile(r"(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?", re.ASCII)
# A single dot followed by one or two digits is a decimal point ("150.50").
_DOT_DECIMAL = re.compile(r"\d+\.(\d{1,2})", re.ASCII)
# One to three digits, then a dot or a comma and exactly three: a thousands separator
# in one notation, decimals in the other.
_THOUSANDS_OR_DECIMALS = re.compile(r"\d{1,3}[.,]\d{3}", re.ASCII)
_CURRENCY = re.compile(r"^R\$\s*", re.IGNORECASE)


def parse_amount(text, *, what=None, suffix: str = "") -> Decimal:
    """The Decimal a person meant by `text`, with at most two decimal places.

    `suffix` is a unit that may follow the number ("%" for percentages).
    Raises ValidationError (codes: required, negative, invalid, ambiguous,
    decimal_places) with a message for the person who typed it.
    """
    what = what or _("an amount")
    if isinstance(text, Decimal):
        text = str(text)
    if isinstance(text, float | bool) or not isinstance(text, str | int):
        raise ValidationError(
            _("Type %(what)s with digits."), code="invalid", params={"what": what}
        )
    percentage = suffix == "%"
    value = str(text).replace("\u00a0", " ").strip()
    if not percentage:
        value = _CURRENCY.sub("", value)
    if suffix and value.endswith(suffix):
        value = value[: -len(suffix)].rstrip()
    if not value:
        raise ValidationError(_("Type %(what)s."), code="required", params={"what": what})
    if value.startswith("-"):
        raise ValidationError(_("The value cannot be negative."), code="negative")
    # "1.234" (one thousand or one point two?) and "1,234" (the same, written the
    # other way round) are refused rather than guessed.
    if _THOUSANDS_OR_DECIMALS.fullmatch(value):
        if percentage:
            message = _(
                "“%(value)s” can be read two ways. Type the share with a comma, such as 33,33."
            )
        else:
            message = _(
                "“%(value)s” can be read two ways. Use the comma only for cents, such as 1.234,56."
            )
        raise ValidationError(message, code="ambiguous", params={"value": value})
    if _DOT_DECIMAL.fullmatch(value) and "," not in value:
        decimals = _DOT_DECIMAL.fullmatch(value).group(1)
        number = value
    elif match := _BRAZILIAN.fullmatch(value):
        decimals = match.group(1) or ""
        number = value.replace(".", "").replace(",", ".")
    else:
        if percentage:
            message = _("Type %(what)s with digits only, such as 33,33.")
        else:
            message = _("Type %(what)s with digits only, such as 1.234,56.")
        raise ValidationError(message, code="invalid", params={"what": what})
    if len(decimals) > 2:
        raise ValidationError(_("Use at most two decimal places."), code="decimal_places")
    # Wide enough for any length typed: the default 28 digits would raise on a long
    # one, and the field's own limit (R$ 100.000,00, 100 %) says what is wrong with it.
    return Decimal(number).quantize(CENT, context=Context(prec=len(number) + 2))


def split(gross: Decimal, percentage: Decimal) -> tuple[Decimal, Decimal]:
    """The clinic's part and the doctor's part of `gross`, which always add up to it.

    The clinic's part is rounded half up to the cent, once; the doctor gets the rest.
    """
    if not isinstance(gross, Decimal) or not isinstance(percentage, Decimal):
        raise TypeError("money is split as Decimal only")
    platform = (gross * percentage / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
    return platform, gross - platform


def format_brl(value: Decimal) -> str:
    """R$ 1.234,56: how money reads in Brazil, whatever the active language."""
    amount = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    units, cents = f"{abs(amount):.2f}".split(".")
    grouped = f"{int(units):,}".replace(",", ".")
    return f"{sign}R$\u00a0{grouped},{cents}"


def format_percentage(value: Decimal) -> str:
    """30 %, 33,33 %: trailing zeros dropped, comma decimal."""
    text = f"{Decimal(value).quantize(CENT):f}".rstrip("0").rstrip(".")
    return f"{text.replace('.', ',')}\u00a0%"
