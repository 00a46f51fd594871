"""Clinical models in the Django admin: read-only, and content only under emergency access.

Admins manage people and money; in the back office they see who wrote what
and when. An evolution's text shows only while the admin holds an active
emergency access to that patient, and that view is logged like any other.
"""

from django.contrib import admin
from django.contrib.admin.views.main import IGNORED_PARAMS
from django.core.exceptions import FieldDoesNotExist
from django.db.models.constants import LOOKUP_SEP
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import DoctorFilter, ReadOnlyAdmin, ReadOnlyInline
from accounts.backends import client_ip
from accounts.models import Role, User, short_local_datetime

from . import services
from .models import EmergencyAccess, Evolution, EvolutionRevision, RecordAccess, RecordSection
from .permissions import emergency_access_to


class ClinicalReadOnlyAdmin(ReadOnlyAdmin):
    """Nothing is added, changed or deleted here (no delete action either).

    The changelist filters only on the columns it shows. Django accepts a
    lookup on any field of the model in the query string, which makes the
    list an oracle: `?notes__startswith=a` answers "a row" or "none", and
    spells out a patient's notes a letter at a time. `clinical_lookups` are
    allowed only with an active emergency access to the one patient the
    list is filtered on (`?patient=<id>`), and that search is logged.
    """

    clinical_lookups: tuple[str, ...] = ()

    def _field_name(self, lookup: str) -> str:
        part = lookup.split(LOOKUP_SEP)[0]
        if part == "pk":
            return "pk"
        try:
            return self.model._meta.get_field(part).name
        except FieldDoesNotExist:
            return part

    def _shown(self, request) -> set[str]:
        shown = {name for name in self.get_list_display(request) if isinstance(name, str)}
        shown |= {name for name in self.get_list_filter(request) if isinstance(name, str)}
        if self.date_hierarchy:
            shown.add(self.date_hierarchy)
        if "pk" in shown:
            shown.add(self.model._meta.pk.name)
        return shown

    def _clinical_lookups_in(self, request) -> list[str]:
        return [
            key
            for key in request.GET
            if key not in IGNORED_PARAMS and self._field_name(key) in self.clinical_lookups
        ]

    def _filtered_patient(self, request) -> User | None:
        """The one patient the list is filtered on (several `patient` values are ORed)."""
        values = request.GET.getlist("patient")
        if len(values) != 1 or not values[0].isdigit():
            return None
        return User.objects.filter(pk=values[0], role=Role.PATIENT).first()

    def _clinical_lookups_granted(self, request) -> bool:
        patient = self._filtered_patient(request)
        return patient is not None and emergency_access_to(request.user, patient.pk) is not None

    def lookup_allowed(self, lookup, value, request=None):
        name = self._field_name(lookup)
        if name in self.clinical_lookups:
            return request is not None and self._clinical_lookups_granted(request)
        if request is None or name not in self._shown(request):
            return False
        return super().lookup_allowed(lookup, value, request)

    def changelist_view(self, request, extra_context=None):
        if self._clinical_lookups_in(request):
            # A search in the text is a read of it: logged, and logged as refused
            # when it is (Django then answers 400 from lookup_allowed).
            patient = self._filtered_patient(request)
            if patient is not None:
                services.record_access_log(
                    viewer=request.user,
                    patient=patient,
                    section=RecordSection.ADMIN,
                    ip_address=client_ip(request),
                    refused=not self._clinical_lookups_granted(request),
                )
        return super().changelist_view(request, extra_context)


class EvolutionDoctorFilter(DoctorFilter):
    related_name = "authored_evolutions"


class RevisionInline(ReadOnlyInline):
    """An evolution's versions, oldest first: who wrote each one, and when."""

    model = EvolutionRevision
    fk_name = "evolution"
    verbose_name_plural = _("versions of this evolution")
    fields = ("number", "written", "author")
    ordering = ("number",)

    def get_queryset(self, request):
        # Each row's title names the patient; its author column, the doctor.
        return (
            super()
            .get_queryset(request)
            .select_related("evolution__patient", "author__doctor_profile")
        )

    @admin.display(description=_("written at"))
    def written(self, obj):
        return short_local_datetime(obj.created_at)


class RevisionTextInline(RevisionInline):
    """The same, with each version's text and the reason for it: emergency access only.
    Stacked, since the notes run to paragraphs."""

    template = "admin/edit_inline/stacked.html"
    fields = ("number", "written", "author", "reason", *EvolutionRevision.TEXT_FIELDS)


@admin.register(Evolution)
class EvolutionAdmin(ClinicalReadOnlyAdmin):
    list_display = ("created_at", "patient", "doctor", "revision", "room")
    list_select_related = (
        "patient",
        "doctor__doctor_profile",
        "room__patient",
        "room__doctor__doctor_profile",
    )
    list_filter = (EvolutionDoctorFilter, "created_at")
    date_hierarchy = "created_at"
    search_fields = ("patient__email", "patient__first_name", "patient__last_name")
    clinical_lookups = Evolution.TEXT_FIELDS
    metadata = ("patient", "doctor", "room", "created_at", "revision", "amended_at")

    def _granted(self, request, obj) -> bool:
        if obj is None:
            return False
        return emergency_access_to(request.user, obj.patient_id) is not None

    def get_fields(self, request, obj=None):
        if self._granted(request, obj):
            return (*self.metadata, *Evolution.TEXT_FIELDS)
        return self.metadata

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_inlines(self, request, obj):
        # Each version's text is the record too: shown, and logged, like the text above.
        return [RevisionTextInline if self._granted(request, obj) else RevisionInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if self._granted(request, obj):
            services.record_access_log(
                viewer=request.user,
                patient=obj.patient,
                section=RecordSection.ADMIN,
                evolution=obj,
                ip_address=client_ip(request),
            )
        else:
            extra_context = {
                **(extra_context or {}),
                "subtitle": _("The text is shown only with emergency access to this patient."),
            }
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(RecordAccess)
class RecordAccessAdmin(ClinicalReadOnlyAdmin):
    list_display = (
        "created_at", "viewer", "viewer_role", "patient", "section", "refused", "ip_address"
    )  # fmt: skip
    list_select_related = ("viewer__doctor_profile", "patient")
    list_filter = ("viewer_role", "section", "refused", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("patient__email", "viewer__email")


@admin.register(EmergencyAccess)
class EmergencyAccessAdmin(ClinicalReadOnlyAdmin):
    list_display = ("created_at", "admin", "patient", "expires_at", "reason")
    list_select_related = ("admin", "patient")
    list_filter = ("created_at",)
    date_hierarchy = "created_at"
    search_fields = ("patient__email", "admin__email", "reason")


@admin.register(EvolutionRevision)
class EvolutionRevisionAdmin(ClinicalReadOnlyAdmin):
    """Every version of every evolution, as written: who corrected what, and when.

    No text here, nor the reason for a correction (it speaks of the text): both
    are on the evolution's page, under emergency access, where reading is logged.
    Lookups on them are refused like any on a column the list does not show.
    """

    list_display = ("written", "evolution", "number", "author")
    list_select_related = (
        "evolution__patient",
        "evolution__doctor__doctor_profile",
        "author__doctor_profile",
    )
    list_filter = ("created_at",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    search_fields = (
        "evolution__patient__email", "evolution__patient__first_name",
        "evolution__patient__last_name",
    )  # fmt: skip
    fields = ("evolution", "number", "author", "written", "where_to_read")
    readonly_fields = fields

    @admin.display(description=_("written at"), ordering="created_at")
    def written(self, obj):
        return short_local_datetime(obj.created_at)

    @admin.display(description=_("text"))
    def where_to_read(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:clinical_evolution_change", args=[obj.evolution_id]),
            gettext("On the evolution's page, with emergency access to this patient"),
        )
