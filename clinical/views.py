import json
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import FormView, TemplateView

from accounts.backends import client_ip
from accounts.forms import apply_service_errors
from accounts.models import Role, User
from accounts.permissions import RoleRequiredMixin, has_role, patients_visible_to
from rooms.models import Room
from rooms.permissions import can_open_room_for, rooms_joinable_by
from rooms.services import consent_current

from . import selectors, services
from .forms import (
    AmendForm,
    DateRangeForm,
    EmergencyAccessForm,
    EvolutionForm,
    EvolutionPageForm,
)
from .models import Evolution, RecordSection
from .permissions import (
    can_amend_evolution,
    can_see_access_log,
    can_write_evolution,
    emergency_access_to,
    evolutions_amendable_by,
    evolutions_visible_to,
    patients_with_log_visible_to,
    patients_writable_by,
    records_readable_by,
)

TIMELINE_PAGE_SIZE = 20
LOG_PAGE_SIZE = 50
CONSULTATIONS_SHOWN = 20


class EmergencyAccessRequired(Exception):
    """An admin opened clinical content without an active emergency access to that patient."""

    def __init__(self, patient_pk: int):
        self.patient_pk = patient_pk


@method_decorator(never_cache, name="dispatch")
class ClinicalMixin(RoleRequiredMixin):
    """Clinical pages: scoped lookups, the admin's break-glass detour, and the access log.

    Pages are never cached: a shared computer's back button must not show a
    record after logout.
    """

    # Where a patient who opens the staff version of their own page is sent.
    patient_redirect = ""

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if kwargs and has_role(user, Role.PATIENT) and Role.PATIENT not in self.allowed_roles:
            # A patient never learns whether someone else's id exists: 404, not 403.
            if self.patient_redirect and kwargs.get("pk") == user.pk:
                return redirect(self.patient_redirect)
            raise Http404
        try:
            return super().dispatch(request, *args, **kwargs)
        except EmergencyAccessRequired as needed:
            query = urlencode({"next": request.get_full_path()})
            url = reverse("clinical:emergency_access", args=[needed.patient_pk])
            return redirect(f"{url}?{query}")

    def _readable_patient(self, pk, section):
        user = self.request.user
        queryset = records_readable_by(user).select_related(
            "patient_profile__doctor__doctor_profile"
        )
        patient = queryset.filter(pk=pk).first()
        if patient is not None:
            return patient
        # Admins see that a record exists (counts and dates); reading it takes a reason.
        if has_role(user, Role.ADMIN) and patients_visible_to(user).filter(pk=pk).exists():
            raise EmergencyAccessRequired(pk)
        self._refuse(User.objects.filter(pk=pk, role=Role.PATIENT).first(), section)

    def _visible_evolution(self, pk, section) -> Evolution:
        user = self.request.user
        evolution = (
            evolutions_visible_to(user)
            .select_related("patient__patient_profile", "doctor__doctor_profile", "room")
            .filter(pk=pk)
            .first()
        )
        if evolution is not None:
            return evolution
        asked = Evolution.objects.select_related("patient").filter(pk=pk).first()
        if asked is not None and has_role(user, Role.ADMIN):
            raise EmergencyAccessRequired(asked.patient_id)
        self._refuse(asked.patient if asked else None, section, asked)

    def _refuse(self, patient, section, evolution=None):
        """Not found, as if it did not exist; a staff member's try at a real record is logged."""
        if patient is not None and has_role(self.request.user, Role.DOCTOR, Role.ADMIN):
            self.log_access(patient, section, evolution, refused=True)
        raise Http404

    def log_access(self, patient, section, evolution=None, *, refused=False):
        services.record_access_log(
            viewer=self.request.user,
            patient=patient,
            section=section,
            evolution=evolution,
            ip_address=client_ip(self.request),
            refused=refused,
        )


def _write_evolution(**kwargs) -> tuple[Evolution, bool]:
    """services.evolution_write, and whether the evolution was written now: a resend
    (Back, another tab) gets the one saved before, and the doctor is told so."""
    asked_at = timezone.now()
    evolution = services.evolution_write(**kwargs)
    return evolution, evolution.created_at >= asked_at


def _saved_message(written_now: bool) -> str:
    if written_now:
        return _("Evolution saved in the record.")
    return _("This evolution was already saved in the record: it was not written twice.")


def _timeline(request, patient) -> dict:
    """The timeline's page, and which of its evolutions this user may correct (one query)."""
    paginator = Paginator(selectors.timeline(patient=patient), TIMELINE_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    amendable = evolutions_amendable_by(request.user).filter(pk__in=[e.pk for e in page])
    return {"page_obj": page, "amendable": set(amendable.values_list("pk", flat=True))}


# --- The chart (doctors; admins with emergency access) -----------------------


class ChartView(ClinicalMixin, TemplateView):
    allowed_roles = (Role.DOCTOR, Role.ADMIN)
    patient_redirect = "clinical:my_record"
    template_name = "clinical/chart.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        patient = self._readable_patient(self.kwargs["pk"], RecordSection.CHART)
        self.log_access(patient, RecordSection.CHART)
        can_see_log = can_see_access_log(user, patient)
        return super().get_context_data(
            patient=patient,
            **_timeline(self.request, patient),
            consultations=selectors.consultations(patient=patient)[:CONSULTATIONS_SHOWN],
            can_write=can_write_evolution(user, patient),
            can_open_room=can_open_room_for(user, patient),
            can_see_log=can_see_log,
            patient_consent=consent_current(patient=patient),
            emergency=emergency_access_to(user, patient.pk),
            # Break-glass reasons go to those who answer for the patient's record.
            emergency_notices=(
                selectors.emergency_accesses_of(patient=patient) if can_see_log else []
            ),
            **kwargs,
        )


class ChartPrintView(ClinicalMixin, TemplateView):
    allowed_roles = (Role.DOCTOR, Role.ADMIN)
    patient_redirect = "clinical:my_record_print"
    template_name = "clinical/print_record.html"

    def get_context_data(self, **kwargs):
        patient = self._readable_patient(self.kwargs["pk"], RecordSection.CHART_PRINT)
        self.log_access(patient, RecordSection.CHART_PRINT)
        return super().get_context_data(
            patient=patient,
            evolutions=selectors.timeline(patient=patient),
            consultations=selectors.consultations(patient=patient),
            printed_by=self.request.user,
            printed_at=timezone.now(),
            back_url=reverse("clinical:chart", args=[patient.pk]),
            **kwargs,
        )


# --- Writing and correcting ---------------------------------------------------


class EvolutionCreateView(ClinicalMixin, FormView):
    """The full-page form, from the chart or the consultation summary (?room=<code>)."""

    allowed_roles = (Role.DOCTOR,)
    form_class = EvolutionPageForm
    template_name = "clinical/evolution_form.html"

    @cached_property
    def patient(self):
        return get_object_or_404(
            patients_writable_by(self.request.user).select_related("patient_profile"),
            pk=self.kwargs["pk"],
        )

    @cached_property
    def rooms(self):
        return Room.objects.filter(doctor=self.request.user, patient=self.patient).order_by(
            "-created_at"
        )

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "rooms": self.rooms}

    def get_initial(self):
        # From a consultation's summary, the evolution is linked to that consultation.
        code = self.request.GET.get("room", "")
        room = self.rooms.filter(code=code).first() if code else None
        return {"room": room, "token": uuid.uuid4()}

    def get_context_data(self, **kwargs):
        return super().get_context_data(patient=self.patient, **kwargs)

    def form_valid(self, form):
        try:
            evolution, written_now = _write_evolution(
                doctor=self.request.user, patient=self.patient, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(self.request, _saved_message(written_now))
        return redirect(
            f"{reverse('clinical:chart', args=[self.patient.pk])}#evolution-{evolution.pk}"
        )


class CallEvolutionView(ClinicalMixin, View):
    """Saves an evolution from the call's side panel (fetch, JSON): the call never reloads."""

    allowed_roles = (Role.DOCTOR,)
    http_method_names = ["post"]

    def post(self, request, code):
        room = get_object_or_404(
            rooms_joinable_by(request.user).select_related("patient"), code=code
        )
        form = EvolutionForm(request.POST)
        if form.is_valid():
            try:
                evolution, written_now = _write_evolution(
                    doctor=request.user, patient=room.patient, room=room, **form.cleaned_data
                )
            except ValidationError as error:
                apply_service_errors(form, error)
        if form.errors:
            errors = {field: [str(m) for m in msgs] for field, msgs in form.errors.items()}
            first = next(iter(errors.values()))[0]
            return JsonResponse({"errors": errors, "message": first}, status=400)
        return JsonResponse(
            {
                "id": evolution.pk,
                "written_at": date_format(
                    timezone.localtime(evolution.created_at), "SHORT_DATETIME_FORMAT"
                ),
                "summary": evolution.summary,
                "url": reverse("clinical:evolution", args=[evolution.pk]),
                "message": _saved_message(written_now),
            },
            status=201 if written_now else 200,
        )


class EvolutionAmendView(ClinicalMixin, FormView):
    allowed_roles = (Role.DOCTOR,)
    form_class = AmendForm
    template_name = "clinical/evolution_form.html"

    @cached_property
    def evolution(self):
        return get_object_or_404(
            evolutions_amendable_by(self.request.user).select_related("patient"),
            pk=self.kwargs["pk"],
        )

    def get_initial(self):
        return {**self.evolution.text(), "based_on": self.evolution.revision}

    def get(self, request, *args, **kwargs):
        # The form shows the whole text: opening it is reading the evolution.
        self.log_access(self.evolution.patient, RecordSection.EVOLUTION, self.evolution)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            evolution=self.evolution, patient=self.evolution.patient, **kwargs
        )

    def form_valid(self, form):
        try:
            services.evolution_amend(
                evolution=self.evolution, author=self.request.user, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request, _("Correction saved. The earlier text stays in the history.")
        )
        return redirect("clinical:evolution", pk=self.evolution.pk)


# --- One evolution: history and prescription ---------------------------------


class EvolutionDetailView(ClinicalMixin, TemplateView):
    allowed_roles = (Role.DOCTOR, Role.ADMIN, Role.PATIENT)
    template_name = "clinical/evolution_detail.html"

    def get_context_data(self, **kwargs):
        evolution = self._visible_evolution(self.kwargs["pk"], RecordSection.EVOLUTION)
        self.log_access(evolution.patient, RecordSection.EVOLUTION, evolution)
        return super().get_context_data(
            evolution=evolution,
            patient=evolution.patient,
            history=selectors.revision_history(evolution=evolution),
            can_amend=can_amend_evolution(self.request.user, evolution),
            **kwargs,
        )


class PrescriptionPrintView(ClinicalMixin, TemplateView):
    allowed_roles = (Role.DOCTOR, Role.ADMIN, Role.PATIENT)
    template_name = "clinical/print_prescription.html"

    def get_context_data(self, **kwargs):
        evolution = self._visible_evolution(self.kwargs["pk"], RecordSection.PRESCRIPTION_PRINT)
        if not evolution.prescription:
            raise Http404
        self.log_access(evolution.patient, RecordSection.PRESCRIPTION_PRINT, evolution)
        user = self.request.user
        back = "clinical:my_record" if user.is_patient else "clinical:chart"
        return super().get_context_data(
            evolution=evolution,
            patient=evolution.patient,
            printed_at=timezone.now(),
            back_url=reverse(back)
            if user.is_patient
            else reverse(back, args=[evolution.patient_id]),
            **kwargs,
        )


# --- Emergency access and the access log --------------------------------------


class EmergencyAccessView(ClinicalMixin, FormView):
    """Break-glass: an admin states why they must read one patient's record."""

    allowed_roles = (Role.ADMIN,)
    form_class = EmergencyAccessForm
    template_name = "clinical/emergency_access.html"

    @cached_property
    def patient(self):
        return get_object_or_404(
            patients_visible_to(self.request.user).select_related("patient_profile__doctor"),
            pk=self.kwargs["pk"],
        )

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            patient=self.patient,
            counts=selectors.record_counts(patient=self.patient),
            minutes=settings.EMERGENCY_ACCESS_MINUTES,
            active=emergency_access_to(self.request.user, self.patient.pk),
            **kwargs,
        )

    def form_valid(self, form):
        try:
            grant = services.emergency_access_grant(
                admin=self.request.user,
                patient=self.patient,
                reason=form.cleaned_data["reason"],
                ip_address=client_ip(self.request),
            )
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.form_invalid(form)
        chart = reverse("clinical:chart", args=[self.patient.pk])
        next_url = self.request.GET.get("next", "")
        if not url_has_allowed_host_and_scheme(
            next_url,
            allowed_hosts={self.request.get_host()},
            require_https=self.request.is_secure(),
        ):
            next_url = chart
        if next_url != chart:  # the chart says it in its own banner
            until = date_format(timezone.localtime(grant.expires_at), "TIME_FORMAT")
            messages.warning(
                self.request,
                _("Emergency access granted until %(time)s. Every page you open is logged.")
                % {"time": until},
            )
        return redirect(next_url)


class AccessLogView(ClinicalMixin, TemplateView):
    allowed_roles = (Role.DOCTOR, Role.ADMIN)
    patient_redirect = "clinical:my_access_log"
    template_name = "clinical/access_log.html"

    def get_context_data(self, **kwargs):
        patient = get_object_or_404(
            patients_with_log_visible_to(self.request.user), pk=self.kwargs["pk"]
        )
        form = DateRangeForm(self.request.GET or None)
        dates = form.cleaned_data if form.is_valid() else {}
        entries = selectors.access_log(
            patient=patient, since=dates.get("since"), until=dates.get("until"), with_refused=True
        )
        page = Paginator(entries, LOG_PAGE_SIZE).get_page(self.request.GET.get("page"))
        filters = {name: self.request.GET.get(name, "") for name in ("since", "until")}
        return super().get_context_data(
            patient=patient, form=form, page_obj=page, filters=filters, **kwargs
        )


# --- The patient's own record ------------------------------------------------


class MyRecordView(ClinicalMixin, TemplateView):
    allowed_roles = (Role.PATIENT,)
    template_name = "clinical/my_record.html"

    def get_context_data(self, **kwargs):
        patient = self.request.user
        return super().get_context_data(
            patient=patient,
            **_timeline(self.request, patient),
            consultations=selectors.consultations(patient=patient)[:CONSULTATIONS_SHOWN],
            **kwargs,
        )


class MyRecordPrintView(ClinicalMixin, TemplateView):
    allowed_roles = (Role.PATIENT,)
    template_name = "clinical/print_record.html"

    def get_context_data(self, **kwargs):
        patient = self.request.user
        return super().get_context_data(
            patient=patient,
            evolutions=selectors.timeline(patient=patient),
            consultations=selectors.consultations(patient=patient),
            printed_by=patient,
            printed_at=timezone.now(),
            back_url=reverse("clinical:my_record"),
            **kwargs,
        )


class MyRecordExportView(ClinicalMixin, View):
    """LGPD's right of access: everything the clinic holds about the patient, as JSON."""

    allowed_roles = (Role.PATIENT,)

    def get(self, request):
        data = selectors.patient_export(patient=request.user)
        body = json.dumps(data, ensure_ascii=False, indent=2)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
        name = f"medconnect-my-data-{timezone.localdate():%Y-%m-%d}.json"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class MyAccessLogView(ClinicalMixin, TemplateView):
    """Who opened my record: names and roles, never their addresses."""

    allowed_roles = (Role.PATIENT,)
    template_name = "clinical/my_access_log.html"

    def get_context_data(self, **kwargs):
        entries = selectors.access_log(patient=self.request.user)
        page = Paginator(entries, LOG_PAGE_SIZE).get_page(self.request.GET.get("page"))
        return super().get_context_data(page_obj=page, **kwargs)
