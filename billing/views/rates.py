"""The admin's rate pages: every doctor's fee and share, the clinic's defaults, the history.

Every write is a POST answered by a redirect (Back and reload never resubmit),
and the services log only the fields that really changed, so a form sent twice
changes nothing the second time.
"""

from django.contrib import messages
from django.contrib.auth.mixins import UserPassesTestMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse_lazy
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import FormView, TemplateView

from accounts.forms import apply_service_errors
from accounts.permissions import doctors_visible_to

from ..forms import BillingSettingsForm, DoctorRateForm, RateHistoryFilterForm
from ..models import BillingSettings, RateField
from ..money import format_brl, format_percentage
from ..permissions import can_manage_billing
from ..selectors import doctors_with_rates, effective_rate, rate_history, rate_history_doctors
from ..services import billing_settings_update, doctor_rate_update

HISTORY_PAGE_SIZE = 25

CHANGED = {
    RateField.FEE: gettext_lazy("Consultation fee changed from %(old)s to %(new)s."),
    RateField.PERCENTAGE: gettext_lazy("Clinic share changed from %(old)s to %(new)s."),
    RateField.MIN_SECONDS: gettext_lazy("Minimum billable time changed from %(old)s to %(new)s."),
}


def duration_display(seconds: int) -> str:
    """90 → "1 min 30 s": exact, since the minimum is set to the second."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


def value_display(field: str, value, *, default=None) -> str:
    """A rate value as people read it; None is a doctor's "clinic default" (with its value)."""
    if value is None:
        if default is None:
            return _("Clinic default")
        return _("%(value)s (clinic default)") % {"value": value_display(field, default)}
    if field == RateField.FEE:
        return format_brl(value)
    if field == RateField.PERCENTAGE:
        return format_percentage(value)
    return duration_display(value)


class BillingAdminRequiredMixin(UserPassesTestMixin):
    """The rate pages are the admin's (billing.permissions): 403 for everyone else."""

    def test_func(self):
        return can_manage_billing(self.request.user)


class RateListView(BillingAdminRequiredMixin, TemplateView):
    template_name = "billing/rate_list.html"

    def get_context_data(self, **kwargs):
        clinic = BillingSettings.load()
        return super().get_context_data(
            clinic=clinic,
            clinic_min_seconds=duration_display(clinic.min_billable_seconds),
            default_rate=effective_rate(None, clinic),
            rows=doctors_with_rates(clinic=clinic),
            **kwargs,
        )


class _RateFormView(BillingAdminRequiredMixin, FormView):
    success_url = reverse_lazy("billing:rates")

    @cached_property
    def clinic(self) -> BillingSettings:
        return BillingSettings.load()

    def form_valid(self, form):
        before = self.current_values()
        try:
            changed = self.save(form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.form_invalid(form)
        if changed:
            messages.success(self.request, self.changed_message(before, form.cleaned_data, changed))
        else:
            messages.info(self.request, _("Nothing changed."))
        return redirect(self.get_success_url())

    def changed_message(self, before: dict, after: dict, changed: list[str]) -> str:
        defaults = {
            RateField.FEE: self.clinic.consultation_fee,
            RateField.PERCENTAGE: self.clinic.platform_percentage,
        }
        return " ".join(
            str(CHANGED[field])
            % {
                "old": value_display(field, before[field], default=defaults.get(field)),
                "new": value_display(field, after[field], default=defaults.get(field)),
            }
            for field in changed
        )


class DefaultsView(_RateFormView):
    form_class = BillingSettingsForm
    template_name = "billing/rates_defaults_form.html"

    def current_values(self) -> dict:
        return BillingSettingsForm.initial_from(self.clinic)

    def get_initial(self):
        return self.current_values()

    def save(self, data) -> list[str]:
        return billing_settings_update(by=self.request.user, **data)

    def get_context_data(self, **kwargs):
        return super().get_context_data(clinic=self.clinic, **kwargs)


class DoctorRateView(_RateFormView):
    form_class = DoctorRateForm
    template_name = "billing/doctor_rate_form.html"

    @cached_property
    def doctor(self):
        # Only active doctors have a rate to edit: anyone else is the same 404 as no one.
        doctors = doctors_visible_to(self.request.user).filter(is_active=True)
        return get_object_or_404(
            doctors.select_related("doctor_profile", "billing_rate"), pk=self.kwargs["pk"]
        )

    def current_values(self) -> dict:
        own = getattr(self.doctor, "billing_rate", None)
        return {
            RateField.FEE: own.consultation_fee if own else None,
            RateField.PERCENTAGE: own.platform_percentage if own else None,
        }

    def get_initial(self):
        return self.current_values()

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "clinic": self.clinic}

    def save(self, data) -> list[str]:
        return doctor_rate_update(by=self.request.user, doctor=self.doctor, **data)

    def changed_message(self, before, after, changed):
        return _("%(doctor)s: %(changes)s") % {
            "doctor": self.doctor.display_name,
            "changes": super().changed_message(before, after, changed),
        }

    def get_context_data(self, **kwargs):
        own = getattr(self.doctor, "billing_rate", None)
        return super().get_context_data(
            doctor=self.doctor, rate=effective_rate(own, self.clinic), clinic=self.clinic, **kwargs
        )


class RateHistoryView(BillingAdminRequiredMixin, TemplateView):
    template_name = "billing/rate_history.html"

    def get_context_data(self, **kwargs):
        doctors = rate_history_doctors()
        form = RateHistoryFilterForm(self.request.GET, doctors=doctors)
        doctor = form.cleaned_data["doctor"] if form.is_valid() else None
        page = Paginator(rate_history(doctor=doctor), HISTORY_PAGE_SIZE).get_page(
            self.request.GET.get("page")
        )
        rows = [
            {
                "change": change,
                "old": _logged_display(change.field, change.old_value),
                "new": _logged_display(change.field, change.new_value),
            }
            for change in page.object_list
        ]
        return super().get_context_data(
            doctors=doctors,
            doctor=doctor,
            filter_errors=form.errors.get("doctor", []),
            page_obj=page,
            rows=rows,
            filters={"doctor": doctor.pk if doctor else ""},
            **kwargs,
        )


def _logged_display(field: str, value) -> str:
    # Seconds are logged in the same decimal column as money.
    if value is not None and field == RateField.MIN_SECONDS:
        value = int(value)
    return value_display(field, value)
