"""Forms of the billing pages: the clinic's defaults, a doctor's own rate, the history filter.

Amounts are typed in text inputs and read by billing.money.parse_amount, the
Brazilian way ("1.234,56"), never by the browser's or Python's idea of a number.
"""

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import MAX_FEE, BillingSettings
from .money import format_brl, format_percentage, parse_amount

MAX_MIN_BILLABLE_SECONDS = 3600
# Longer input is no amount anyone means, and would overflow Decimal's 28 digits.
MAX_INPUT_LENGTH = 20


def fee_display(value: Decimal) -> str:
    """150,00 or 1.234,56: a fee as the form shows it, without the currency."""
    return format_brl(value).replace("R$\u00a0", "")


def percentage_display(value: Decimal) -> str:
    """30 or 33,33: a share as the form shows it, without the sign."""
    return format_percentage(value).replace("\u00a0%", "")


class _TextNumberInput(forms.TextInput):
    """A text input for numbers that shows stored values the Brazilian way."""

    def __init__(self, display, attrs=None):
        self.display = display
        defaults = {"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"}
        super().__init__(attrs={**defaults, **(attrs or {})})

    def format_value(self, value):
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return self.display(value)
        return super().format_value(value)


class _AmountField(forms.CharField):
    """A Decimal typed the Brazilian way, checked against a range.

    Empty means None when the field is optional (a doctor's "use the clinic default").
    """

    what = _("an amount")
    suffix = ""
    display = staticmethod(fee_display)

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", _TextNumberInput(self.display))
        super().__init__(**kwargs)

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            if self.required:
                parse_amount("", what=self.what)  # raises the "required" error
            return None
        if len(text) > MAX_INPUT_LENGTH:
            raise ValidationError(self.too_long_message, code="too_large")
        return parse_amount(text, what=self.what, suffix=self.suffix)

    def validate(self, value):
        # Emptiness is handled in to_python, with parse_amount's message.
        if value is not None:
            self.check_range(value)


class FeeField(_AmountField):
    what = _("the consultation fee")
    too_long_message = _("The fee can be at most R$ 100.000,00.")

    def check_range(self, value):
        if value <= 0:
            raise ValidationError(_("The fee must be more than R$ 0,00."), code="not_positive")
        if value > MAX_FEE:
            raise ValidationError(self.too_long_message, code="too_large")


class ShareField(_AmountField):
    what = _("the clinic share")
    suffix = "%"
    display = staticmethod(percentage_display)
    too_long_message = _("The clinic share can be at most 100 %.")

    def check_range(self, value):
        if value > 100:
            raise ValidationError(self.too_long_message, code="too_large")


class SecondsField(forms.CharField):
    """A whole number of seconds, from 0 to an hour."""

    default_error_messages = {
        "required": _("Type the minimum time in seconds (0 counts any time together)."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"})
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        text = re.sub(r"\s*s$", "", text, flags=re.IGNORECASE)  # "90 s" is 90 seconds
        if text.startswith("-"):
            raise ValidationError(_("The value cannot be negative."), code="negative")
        if not (text.isascii() and text.isdigit()):
            raise ValidationError(_("Type a whole number of seconds, such as 90."), code="invalid")
        if len(text) > MAX_INPUT_LENGTH or int(text) > MAX_MIN_BILLABLE_SECONDS:
            raise ValidationError(
                _("The minimum time can be at most %(max)d seconds (one hour)."),
                code="too_large",
                params={"max": MAX_MIN_BILLABLE_SECONDS},
            )
        return int(text)


class BillingSettingsForm(forms.Form):
    consultation_fee = FeeField(
        label=_("Consultation fee (R$)"), help_text=_("For example 150,00 or 1.234,56.")
    )
    platform_percentage = ShareField(
        label=_("Clinic share (%)"),
        help_text=_("The part of each fee that stays with the clinic, from 0 to 100."),
    )
    min_billable_seconds = SecondsField(
        label=_("Minimum billable time (seconds)"),
        help_text=_(
            "How long doctor and patient must be in the call together for it to count. "
            "0 counts any time together."
        ),
    )

    @classmethod
    def initial_from(cls, clinic: BillingSettings) -> dict:
        return {
            "consultation_fee": clinic.consultation_fee,
            "platform_percentage": clinic.platform_percentage,
            "min_billable_seconds": clinic.min_billable_seconds,
        }


class DoctorRateForm(forms.Form):
    """A doctor's own fee and share; an empty field means the clinic default."""

    consultation_fee = FeeField(label=_("Consultation fee (R$)"), required=False)
    platform_percentage = ShareField(label=_("Clinic share (%)"), required=False)

    def __init__(self, *args, clinic: BillingSettings, **kwargs):
        super().__init__(*args, **kwargs)
        fee, share = self.fields["consultation_fee"], self.fields["platform_percentage"]
        # "Padrão: 150,00", not a bare "150,00" that reads as a value already typed.
        fee.widget.attrs["placeholder"] = _("Default: %(value)s") % {
            "value": fee_display(clinic.consultation_fee)
        }
        fee.help_text = _("Clinic default: %(value)s. Leave empty to use it.") % {
            "value": format_brl(clinic.consultation_fee)
        }
        share.widget.attrs["placeholder"] = _("Default: %(value)s") % {
            "value": percentage_display(clinic.platform_percentage)
        }
        share.help_text = _("Clinic default: %(value)s. Leave empty to use it.") % {
            "value": format_percentage(clinic.platform_percentage)
        }


class RateHistoryFilterForm(forms.Form):
    """?doctor=<pk>, among `doctors`. Anything else is explained, and the whole list shown."""

    doctor = forms.CharField(required=False)

    def __init__(self, data, *, doctors):
        super().__init__(data)
        self.doctors = {d.pk: d for d in doctors}

    def clean_doctor(self):
        getlist = getattr(self.data, "getlist", None)
        if getlist and len(getlist("doctor")) > 1:
            raise ValidationError(
                _("Choose one doctor at a time. Showing every change."), code="repeated"
            )
        value = self.cleaned_data["doctor"].strip()
        if not value:
            return None
        unknown = ValidationError(
            _("There is no doctor with number “%(value)s”. Showing every change."),
            code="unknown",
            params={"value": value[:MAX_INPUT_LENGTH]},
        )
        if not (value.isascii() and value.isdigit()) or len(value) > MAX_INPUT_LENGTH:
            raise unknown
        doctor = self.doctors.get(int(value))
        if doctor is None:
            raise unknown
        return doctor
