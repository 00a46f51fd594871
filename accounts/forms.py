from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import BRAZILIAN_STATES, DoctorTitle, PixKeyType
from .selectors import doctor_choices
from .templatetags.people import phone as format_phone
from .validators import (
    birth_date_range,
    clean_birth_date,
    clean_cpf,
    clean_crm,
    clean_phone_e164,
)


def apply_service_errors(form, error: ValidationError) -> None:
    """Show a service's ValidationError next to the fields it names."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _helper(*rows) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    helper.layout = Layout(
        *(Row(*(Column(name, css_class="col-md") for name in row)) for row in rows)
    )
    return helper


class LoginForm(AuthenticationForm):
    # Django's message says both fields may be case-sensitive; the e-mail is not
    # (UserManager.get_by_natural_key matches it case-insensitively).
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "Wrong e-mail or password. Upper and lower case matter in the password, "
            "not in the e-mail."
        ),
    }


class DoctorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.display_name} · {obj.doctor_profile.crm_display}"


class PhoneInput(forms.TextInput):
    """Shows a stored +5511987654321 as (11) 98765-4321, as every page does."""

    def format_value(self, value):
        return super().format_value(format_phone(value) if value else value)


class PersonForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    email = forms.EmailField(label=_("E-mail"))
    phone = forms.CharField(
        label=_("Phone"),
        required=False,
        help_text=_("With area code, e.g. (11) 98765-4321."),
        widget=PhoneInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )

    def clean_first_name(self):
        return self.cleaned_data["first_name"].strip()

    def clean_last_name(self):
        return self.cleaned_data["last_name"].strip()

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip()
        return clean_phone_e164(phone) if phone else ""


class DoctorForm(PersonForm):
    title = forms.ChoiceField(
        label=_("Title"), choices=[("", _("None")), *DoctorTitle.choices], required=False
    )
    crm = forms.CharField(
        label=_("CRM"), max_length=10, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    crm_state = forms.ChoiceField(label=_("CRM state"), choices=[("", "—"), *BRAZILIAN_STATES])
    specialty = forms.CharField(label=_("Specialty"), max_length=100, required=False)

    field_order = ["title", "first_name", "last_name", "email", "phone", "crm", "crm_state"]

    def clean_crm(self):
        return clean_crm(self.cleaned_data["crm"])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(
            ("title", "first_name", "last_name"),
            ("email", "phone"),
            ("crm", "crm_state", "specialty"),
        )


class PatientForm(PersonForm):
    birth_date = forms.DateField(
        label=_("Birth date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    cpf = forms.CharField(
        label=_("CPF"),
        required=False,
        help_text=_("Optional."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "000.000.000-00"}),
    )

    def __init__(self, *args, with_doctor: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # The browser's date picker offers only dates clean_birth_date accepts.
        oldest, today = birth_date_range()
        self.fields["birth_date"].widget.attrs.update(min=oldest.isoformat(), max=today.isoformat())
        rows = [("first_name", "last_name"), ("email", "phone"), ("birth_date", "cpf")]
        if with_doctor:
            self.fields["doctor"] = DoctorChoiceField(
                label=_("Responsible doctor"), queryset=doctor_choices()
            )
            rows.append(("doctor",))
        self.helper = _helper(*rows)

    def clean_birth_date(self):
        born = self.cleaned_data["birth_date"]
        return clean_birth_date(born) if born else None

    def clean_cpf(self):
        cpf = self.cleaned_data["cpf"].strip()
        return clean_cpf(cpf) if cpf else ""


class ReassignForm(forms.Form):
    doctor = DoctorChoiceField(label=_("New responsible doctor"), queryset=doctor_choices())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(("doctor",))


class ProfileForm(PersonForm):
    email = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(("first_name", "last_name"), ("phone",))


class PhotoForm(forms.Form):
    photo = forms.FileField(
        label=_("New photo"),
        help_text=_("JPEG, PNG or WebP, up to 5 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(("photo",))


class PixKeyForm(forms.Form):
    pix_key_type = forms.ChoiceField(
        label=_("Key type"), choices=[("", _("No key")), *PixKeyType.choices], required=False
    )
    pix_key = forms.CharField(label=_("PIX key"), max_length=120, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(("pix_key_type", "pix_key"))

    def clean(self):
        data = super().clean()
        if data.get("pix_key", "").strip() and not data.get("pix_key_type"):
            self.add_error("pix_key_type", _("Choose the type of your PIX key."))
        elif data.get("pix_key_type") and not data.get("pix_key", "").strip():
            self.add_error("pix_key", _("Enter your PIX key."))
        return data
