from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import reset


class DatabaseResetForm(forms.Form):
    """The phrase typed by hand, and the admin's password again: two deliberate steps."""

    phrase = forms.CharField(
        max_length=100,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("The one you sign in with: it shows it is really you."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["phrase"].label = gettext("Type %(phrase)s to confirm") % {
            "phrase": reset.confirmation_phrase()
        }

    def clean_phrase(self):
        typed = self.cleaned_data["phrase"]
        if not reset.confirmation_matches(typed):
            raise ValidationError(
                _("What you typed is not %(phrase)s."),
                code="wrong-phrase",
                params={"phrase": reset.confirmation_phrase()},
            )
        return typed

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(_("That is not your password."), code="wrong-password")
        return password
