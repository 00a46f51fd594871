"""Clinical models in the Django admin: read-only, and content only under emergency access.

Admins manage people and money; in the back office they see who wrote what
and when. An evolution's text shows only while the admin holds an active
emergency access to that patient, and that view is logged like any other.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.backends import client_ip

from . import services
from .models import EmergencyAccess, Evolution, RecordAccess, RecordSection
from .permissions import emergency_access_to


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nothing is added, changed or deleted here (no delete action either)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Evolution)
class EvolutionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "patient", "doctor", "revision", "room")
    list_select_related = (
        "patient",
        "doctor__doctor_profile",
        "room__patient",
        "room__doctor__doctor_profile",
    )
    list_filter = ("created_at",)
    date_hierarchy = "created_at"
    search_fields = ("patient__email", "patient__first_name", "patient__last_name")
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
class RecordAccessAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "viewer", "viewer_role", "patient", "section", "ip_address")
    list_select_related = ("viewer__doctor_profile", "patient")
    list_filter = ("viewer_role", "section", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("patient__email", "viewer__email")


@admin.register(EmergencyAccess)
class EmergencyAccessAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "admin", "patient", "expires_at", "reason")
    list_select_related = ("admin", "patient")
    list_filter = ("created_at",)
    date_hierarchy = "created_at"
    search_fields = ("patient__email", "admin__email", "reason")
