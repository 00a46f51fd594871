from django import forms
from django.utils.translation import gettext_lazy as _


class ConsentForm(forms.Form):
    accept = forms.BooleanField(
        label=_("I have read the term and agree to be seen by video."),
        error_messages={"required": _("To join the call, tick the box to accept the term.")},
    )
