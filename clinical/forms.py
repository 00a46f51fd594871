from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from rooms.models import Room

from .services import EMERGENCY_REASON_MIN_LENGTH


class EvolutionForm(forms.Form):
    """The text of an evolution; the service checks the rules (one field at least, ICD-10)."""

    # Identifies this one evolution across resends (services.evolution_write).
    token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": _("Complaints, history, examination, plan")}
        ),
    )
    diagnosis = forms.CharField(
        label=_("Diagnosis"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    diagnosis_code = forms.CharField(
        label=_("ICD-10 code (optional)"),
        required=False,
        max_length=10,
        help_text=_("For example J45 or J45.9."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    prescription = forms.CharField(
        label=_("Prescription"),
        required=False,
        max_length=10000,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": _("Medicine, dose, how to take it, for how long")}
        ),
    )


class ConsultationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, room):
        when = date_format(timezone.localtime(room.created_at), "SHORT_DATETIME_FORMAT")
        return gettext("Consultation of %(when)s") % {"when": when}


class EvolutionPageForm(EvolutionForm):
    """The full-page form, which also says which consultation the evolution belongs to."""

    room = ConsultationChoiceField(
        queryset=Room.objects.none(),
        required=False,
        label=_("Consultation"),
        empty_label=_("Not linked to a video consultation"),
    )
    field_order = ["room"]

    def __init__(self, *args, rooms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room"].queryset = rooms


class AmendForm(EvolutionForm):
    token = None  # a correction is guarded by `based_on` instead

    # The revision the form was filled from, so a concurrent correction is not undone.
    based_on = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)
    reason = forms.CharField(
        label=_("Why are you correcting it?"),
        max_length=500,
        help_text=_("The earlier text stays in the history, with this reason."),
    )


class EmergencyAccessForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        min_length=EMERGENCY_REASON_MIN_LENGTH,
        error_messages={
            "min_length": _(
                "Write a fuller reason (at least %(limit_value)d characters), for example: "
                "“Audit requested by the clinical director”."
            )
        },
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "For example: audit requested by the clinical director, or a complaint by the "
            "patient. The patient's doctor sees this reason."
        ),
    )


class DateRangeForm(forms.Form):
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        for name in ("since", "until"):
            if data.get(name) and data[name] > today:
                self.add_error(name, _("Choose a date up to today."))
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("The start date comes after the end date."))
        return data
