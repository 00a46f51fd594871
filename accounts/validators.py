"""Brazilian documents and PIX keys: validation, canonical form and masking.

Check digits are computed by validate-docbr (which also knows the
alphanumeric CNPJ introduced in 2026); this module only decides the canonical
forms that the PIX directory (DICT) uses and how each kind is shown masked.
"""

import datetime as dt
import re
import unicodedata
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from validate_docbr import CNPJ, CPF

from .models import PixKeyType

PIX_EMAIL_MAX_LENGTH = 77
_NON_DIGITS = re.compile(r"\D")
_CNPJ_PUNCTUATION = re.compile(r"[.\-/\s]")
_CNPJ_SHAPE = re.compile(r"^[0-9A-Z]{12}[0-9]{2}$")
# CRMs are numbered from 1 in each state, so a doctor registered decades ago
# in a small state can have three digits; the largest council (SP) is in the
# hundreds of thousands. Seven digits leave room; zero is no registration.
_CRM_SHAPE = re.compile(r"^0*([1-9][0-9]{0,6})$")
# The oldest person alive is under 120; past this a year was mistyped (1800).
OLDEST_AGE_YEARS = 130
# Area codes (DDD) have two digits, neither of them zero.
_PHONE_SHAPE = re.compile(r"^\+55([1-9][1-9])(9\d{8}|[2-8]\d{7})$")


def clean_cpf(value: str) -> str:
    """Return the CPF as 11 digits, or raise ValidationError."""
    digits = _NON_DIGITS.sub("", value or "")
    if len(digits) != 11 or not CPF().validate(digits):
        raise ValidationError(_("Enter a valid CPF (11 digits)."), code="invalid_cpf")
    return digits


def clean_crm(value: str) -> str:
    """Return a CRM number as its digits, without leading zeros, or raise ValidationError."""
    match = _CRM_SHAPE.match((value or "").strip())
    if not match:
        raise ValidationError(
            _("Enter the CRM number: digits only, from 1 to 7 of them, e.g. 123456."),
            code="invalid_crm",
        )
    return match.group(1)


def birth_date_range() -> tuple[dt.date, dt.date]:
    """The earliest and latest birth dates accepted today, in the clinic's time zone."""
    today = timezone.localdate()
    try:
        oldest = today.replace(year=today.year - OLDEST_AGE_YEARS)
    except ValueError:  # today is 29 February
        oldest = today.replace(year=today.year - OLDEST_AGE_YEARS, day=28)
    return oldest, today


def clean_birth_date(born: dt.date) -> dt.date:
    """Refuse a birth date in the future or more than OLDEST_AGE_YEARS ago."""
    oldest, today = birth_date_range()
    if born > today:
        raise ValidationError(_("The birth date cannot be in the future."), code="future")
    if born < oldest:
        raise ValidationError(
            _("Check the birth date: it is more than %(years)d years ago."),
            code="too_old",
            params={"years": OLDEST_AGE_YEARS},
        )
    return born


def clean_cnpj(value: str) -> str:
    """Return the CNPJ as 14 characters (digits, or letters and digits), or raise."""
    raw = _CNPJ_PUNCTUATION.sub("", (value or "").strip().upper())
    if not _CNPJ_SHAPE.match(raw) or not CNPJ().validate(raw):
        raise ValidationError(_("Enter a valid CNPJ (14 characters)."), code="invalid_cnpj")
    return raw


def clean_pix_email(value: str) -> str:
    email = (value or "").strip().lower()
    if len(email) > PIX_EMAIL_MAX_LENGTH:
        raise ValidationError(
            _("A PIX e-mail key has at most %(max)d characters."),
            code="invalid_pix_email",
            params={"max": PIX_EMAIL_MAX_LENGTH},
        )
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            _("Enter a valid e-mail address."), code="invalid_pix_email"
        ) from None
    return email


def clean_phone_e164(value: str) -> str:
    """Return a Brazilian phone number as +55 + area code + number."""
    raw = (value or "").strip()
    digits = _NON_DIGITS.sub("", raw)
    if raw.startswith("+"):
        candidate = "+" + digits
    elif len(digits) in (10, 11):
        candidate = "+55" + digits
    elif len(digits) in (12, 13) and digits.startswith("55"):
        candidate = "+" + digits
    else:
        candidate = ""
    if not _PHONE_SHAPE.match(candidate):
        raise ValidationError(
            _("Enter a Brazilian phone number with its area code, e.g. (11) 98765-4321."),
            code="invalid_phone",
        )
    return candidate


def clean_random_key(value: str) -> str:
    raw = (value or "").strip().lower()
    try:
        parsed = uuid.UUID(raw)
    except ValueError:
        parsed = None
    if parsed is None or str(parsed) != raw.replace("{", "").replace("}", ""):
        raise ValidationError(
            _("A random PIX key is a code like 123e4567-e89b-12d3-a456-426614174000."),
            code="invalid_random_key",
        )
    return str(parsed)


_PIX_CLEANERS = {
    PixKeyType.CPF: clean_cpf,
    PixKeyType.CNPJ: clean_cnpj,
    PixKeyType.EMAIL: clean_pix_email,
    PixKeyType.PHONE: clean_phone_e164,
    PixKeyType.RANDOM: clean_random_key,
}


def clean_pix_key(key_type: str, value: str) -> str:
    """Validate a PIX key for its declared type and return its canonical form."""
    if key_type not in _PIX_CLEANERS:
        raise ValidationError(_("Choose the type of your PIX key."), code="invalid_pix_type")
    return _PIX_CLEANERS[key_type](value)


def format_cpf(cpf: str) -> str:
    return f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}" if len(cpf) == 11 else cpf


def mask_cpf(cpf: str) -> str:
    """The public mask the PIX directory uses: the middle six digits only."""
    return f"***.{cpf[3:6]}.{cpf[6:9]}-**" if len(cpf) == 11 else ""


def mask_pix_key(key_type: str, key: str) -> str:
    if not key:
        return ""
    if key_type == PixKeyType.CPF:
        return mask_cpf(key)
    if key_type == PixKeyType.CNPJ:
        return f"{key[:2]}.{key[2:5]}.***/****-{key[12:]}"
    if key_type == PixKeyType.EMAIL:
        local, _at, domain = key.partition("@")
        return f"{local[:1]}***@{domain}"
    if key_type == PixKeyType.PHONE:
        return f"+55 ({key[3:5]}) *****-{key[-4:]}"
    return f"{key[:4]}****-****-****-****-********{key[-4:]}"


def format_pix_key(key_type: str, key: str) -> str:
    """The key as a person types it into a bank app (used on payout sheets)."""
    if key_type == PixKeyType.CPF:
        return format_cpf(key)
    if key_type == PixKeyType.CNPJ and len(key) == 14:
        return f"{key[:2]}.{key[2:5]}.{key[5:8]}/{key[8:12]}-{key[12:]}"
    return key


# --- Passwords -------------------------------------------------------------------

PRODUCT_NAME = "medconnect"
# Words shared by many clinics' names: alone they are not the clinic's name.
GENERIC_NAME_WORDS = frozenset(
    {
        "clinica", "clinic", "centro", "consultorio", "consultorios", "hospital", "instituto",
        "policlinica", "grupo", "medica", "medico", "medicos", "medicina", "saude",
        "odontologia", "de", "da", "do", "das", "dos", "e",
    }
)  # fmt: skip
_LEET = str.maketrans("013457@$", "oieastas")
_NOT_A_LETTER = re.compile(r"[^a-z]")


def _letters(text: str) -> str:
    """Lower-case ASCII letters only: "Clínica São-Lucas 2026!" -> "clinicasaolucas"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return _NOT_A_LETTER.sub("", decomposed.encode("ascii", "ignore").decode())


def _site_names() -> set[str]:
    names = {PRODUCT_NAME}
    words = [_letters(word) for word in re.split(r"\W+", settings.CLINIC_NAME)]
    for name in ("".join(words), "".join(w for w in words if w not in GENERIC_NAME_WORDS)):
        if len(name) >= 4:
            names.add(name)
    return names


class SiteNamePasswordValidator:
    """Refuse passwords built on the product's or the clinic's name.

    "MedConnect2026" and "Clinica.SaoLucas1" are the first guesses of a
    password spray against a clinic. Case, accents, digits and punctuation
    around or inside the name do not hide it, nor do digits standing for
    letters ("M3dC0nnect").
    """

    def validate(self, password, user=None):
        candidates = {_letters(password), _letters(password.lower().translate(_LEET))}
        if any(name in candidate for name in _site_names() for candidate in candidates):
            raise ValidationError(
                _(
                    "A password can't contain the name of the clinic or of MedConnect: "
                    "it is one of the first guesses of anyone trying to break in."
                ),
                code="password_contains_site_name",
            )

    def get_help_text(self):
        return _("Your password can't contain the name of the clinic or of MedConnect.")
