import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# ICD-10 (CID-10): a letter, two digits, and an optional subcategory digit
# after a dot: J45, J45.9, U07.1.
ICD10_RE = re.compile(r"[A-Z][0-9]{2}(\.[0-9])?")
_LOOSE_RE = re.compile(r"([A-Z][0-9]{2})\.?([0-9])?")


def normalize_icd10(value: str) -> str:
    """Canonical form of a code typed loosely: " j459 " -> "J45.9". Anything else unchanged."""
    compact = re.sub(r"\s+", "", value or "").upper()
    match = _LOOSE_RE.fullmatch(compact)
    if not match:
        return compact
    category, sub = match.groups()
    return f"{category}.{sub}" if sub else category


def validate_icd10(value: str) -> None:
    if value and not ICD10_RE.fullmatch(value):
        raise ValidationError(
            _(
                "“%(value)s” is not an ICD-10 code. Use a letter and two digits, "
                "with an optional subcategory after a dot: J45 or J45.9."
            ),
            code="invalid_icd10",
            params={"value": value},
        )
