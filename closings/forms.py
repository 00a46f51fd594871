"""What the closings pages accept. The services check the rules again; these
turn a person's typing into values and say what is wrong next to the field."""

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.filters import MonthForm, Period
from billing.selectors import local_today

from .models import ClosingStatus
from .services import NOTE_MAX_LENGTH, last_closable_month


class ClosingFilterForm(MonthForm):
    """?month=YYYY-MM&status=… on the admin's list (default: the last month that is over)."""

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), *ClosingStatus.choices],
        error_messages={"invalid_choice": _("“%(value)s” is not a closing status.")},
    )

    def default_period(self) -> Period:
        return Period.of_month(last_closable_month())

    @property
    def status_choice(self) -> str:
        return self.cleaned_data.get("status", "") if self.is_valid() else ""


class MonthCloseForm(MonthForm):
    """The month the admin asked to close (a hidden field, YYYY-MM; required)."""

    def clean_month(self):
        month = super().clean_month()
        if month is None:
            raise forms.ValidationError(_("Choose the month to close."), code="required")
        return month


def _note(label, *, required=False, rows=2, help_text=""):
    return forms.CharField(
        label=label,
        required=required,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


class PaymentForm(forms.Form):
    paid_on = forms.DateField(
        label=_("Paid on"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        error_messages={
            "required": _("Say on which day the payment was made."),
            "invalid": _("Enter the payment date as day/month/year."),
        },
    )
    payment_reference = forms.CharField(
        label=_("Bank reference (PIX end-to-end id)"),
        required=False,
        max_length=64,
        help_text=_("Optional. On the PIX receipt: 32 characters beginning with E."),
    )
    note = _note(_("Note"), help_text=_("Optional. The doctor sees it."))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"paid_on": local_today()})
        super().__init__(*args, **kwargs)


class BulkPaymentForm(forms.Form):
    """Confirm several payments made on one day (each is still its own step and event)."""

    closings = forms.TypedMultipleChoiceField(
        coerce=int,
        error_messages={"required": _("Tick the closings you paid.")},
    )
    paid_on = PaymentForm.base_fields["paid_on"]

    def __init__(self, *args, choices=(), **kwargs):
        kwargs.setdefault("initial", {"paid_on": local_today()})
        super().__init__(*args, **kwargs)
        self.fields["closings"].choices = [(pk, pk) for pk in choices]
        self.fields["closings"].error_messages["invalid_choice"] = _(
            "One of the ticked closings is no longer awaiting payment. Reload the page."
        )


class CancelForm(forms.Form):
    reason = _note(
        _("Reason for cancelling"),
        required=True,
        rows=3,
        help_text=_("Its consultations go back to the month, for the next close."),
    )
    reason.error_messages["required"] = _("Say why the closing is cancelled.")


class ReceiptForm(forms.Form):
    note = _note(_("Note"), help_text=_("Optional."))


class ProblemForm(forms.Form):
    problem = _note(
        _("What is wrong?"),
        required=True,
        rows=3,
        help_text=_("The money did not arrive, the amount is different… The clinic is told."),
    )
    problem.error_messages["required"] = _("Say what is wrong.")
