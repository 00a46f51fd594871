import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import FormView, TemplateView

from accounts.forms import apply_service_errors
from accounts.models import Role, User
from accounts.permissions import RoleRequiredMixin, doctors_visible_to
from accounts.selectors import patient_list_for, people_counts
from billing.permissions import records_visible_to
from billing.selectors import this_month
from clinical.selectors import emergency_accesses_seen_by
from closings.selectors import admin_cards, doctor_cards
from rooms.selectors import open_rooms_for

from . import reset
from .forms import DatabaseResetForm
from .models import DatabaseReset, ResetSource

logger = logging.getLogger(__name__)


class DashboardView(TemplateView):
    """Each role lands on its own dashboard, composed from the apps' selectors."""

    templates = {
        Role.ADMIN: "dashboards/admin.html",
        Role.DOCTOR: "dashboards/doctor.html",
        Role.PATIENT: "dashboards/patient.html",
    }

    def get_template_names(self):
        return [self.templates[self.request.user.role]]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        if not user.is_admin:
            context["open_rooms"] = list(open_rooms_for(user=user)[:20])
        if user.is_admin or user.is_doctor:
            context["month_billing"] = this_month(records_visible_to(user))
        if user.is_admin:
            context["counts"] = people_counts()
            context["closings"] = admin_cards()
            context["reset_allowed"] = reset.reset_allowed()
        elif user.is_doctor:
            context["payments"] = doctor_cards(user)
            patients = patient_list_for(user=user, status="active")
            context["patient_count"] = patients.count()
            context["recent_patients"] = patients.order_by("-date_joined")[:5]
            context["emergency_notices"] = emergency_accesses_seen_by(doctor=user)[:5]
        else:
            context["doctor"] = doctors_visible_to(user).select_related("doctor_profile").first()
            context["password_set"] = user.has_usable_password()
        return context


class DatabaseResetView(RoleRequiredMixin, FormView):
    """Admins start the clinic over: the phrase, their password, then medconnect.reset."""

    allowed_roles = (Role.ADMIN,)
    form_class = DatabaseResetForm
    template_name = "medconnect/database_reset.html"

    def dispatch(self, request, *args, **kwargs):
        if not reset.reset_allowed():
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            counts=people_counts(),
            admins=User.objects.filter(role=Role.ADMIN).order_by("first_name", "last_name"),
            backup_dir=settings.RESET_BACKUP_DIR,
            resets=DatabaseReset.objects.select_related("by__doctor_profile")[:5],
            **kwargs,
        )

    def form_valid(self, form):
        try:
            done = reset.database_reset(by=self.request.user, source=ResetSource.PAGE)
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("The database was reset: only the administrators are left. Backup in %(path)s.")
            % {"path": done.backup_path},
        )
        return redirect("dashboard")


@method_decorator(never_cache, name="dispatch")
class HealthView(View):
    """200 when the app and its database answer; 503 otherwise. Public, for probes."""

    login_required = False

    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception:
            logger.exception("Health check: the database did not answer")
            return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
        return JsonResponse({"status": "ok", "database": "ok"})


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    # Rendered without the request: no context processors, no database, since
    # the failure may be the database itself.
    return HttpResponseServerError(loader.render_to_string("500.html"))
