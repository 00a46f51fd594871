"""Consultations in the Django admin: read-only, for back-office questions.

Rooms change only through the services (finalizing registers the billable
consultation once), so here nothing is added, changed or deleted. A room's
code is its link and is not shown: admins are never admitted into a call.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdmin
from accounts.models import short_local_datetime

from .models import CallSample, Presence, Room, TelemedicineConsent


@admin.register(Room)
class RoomAdmin(ReadOnlyAdmin):
    list_display = ("opened", "patient", "doctor", "status", "together", "ended")
    list_select_related = ("patient", "doctor__doctor_profile", "ended_by__doctor_profile")
    list_filter = ("status", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("patient__first_name", "patient__last_name", "doctor__first_name")
    fields = (
        "patient",
        "doctor",
        "status",
        "opened",
        "call_started",
        "together",
        "ended",
        "ended_by",
    )
    readonly_fields = fields

    @admin.display(description=_("created at"), ordering="created_at")
    def opened(self, obj):
        return short_local_datetime(obj.created_at)

    @admin.display(description=_("call started at"), ordering="call_started_at")
    def call_started(self, obj):
        return short_local_datetime(obj.call_started_at) if obj.call_started_at else "-"

    @admin.display(description=_("ended at"), ordering="ended_at")
    def ended(self, obj):
        return short_local_datetime(obj.ended_at) if obj.ended_at else "-"

    @admin.display(description=_("time together"), ordering="both_present_seconds")
    def together(self, obj):
        return obj.duration_display if obj.call_started_at else "-"


@admin.register(TelemedicineConsent)
class TelemedicineConsentAdmin(ReadOnlyAdmin):
    list_display = ("accepted", "patient", "version", "ip_address")
    list_select_related = ("patient",)
    list_filter = ("version", "accepted_at")
    date_hierarchy = "accepted_at"
    search_fields = ("patient__first_name", "patient__last_name", "patient__email")
    fields = ("patient", "version", "accepted", "text_hash", "ip_address", "user_agent")
    readonly_fields = fields

    @admin.display(description=_("accepted at"), ordering="accepted_at")
    def accepted(self, obj):
        return short_local_datetime(obj.accepted_at)


@admin.register(Presence)
class PresenceAdmin(ReadOnlyAdmin):
    """Who is in a call right now (a row lives while its socket is connected)."""

    list_display = ("person", "consultation", "since", "audio", "video")
    list_select_related = ("user__doctor_profile", "room__patient", "room__doctor__doctor_profile")
    fields = ("person", "consultation", "since", "audio", "video")
    readonly_fields = fields

    @admin.display(description=_("person"))
    def person(self, obj):
        return obj.user

    @admin.display(description=_("consultation"))
    def consultation(self, obj):
        return obj.room

    @admin.display(description=_("connected at"), ordering="connected_at")
    def since(self, obj):
        return short_local_datetime(obj.connected_at)


@admin.register(CallSample)
class CallSampleAdmin(ReadOnlyAdmin):
    """What the browsers measured during calls, to answer "the call was bad"."""

    list_display = ("measured", "person", "consultation", "rtt", "loss", "received", "sent")
    list_select_related = ("user__doctor_profile", "room__patient", "room__doctor__doctor_profile")
    date_hierarchy = "created_at"
    fields = list_display
    readonly_fields = fields

    @admin.display(description=_("measured at"), ordering="created_at")
    def measured(self, obj):
        return short_local_datetime(obj.created_at)

    @admin.display(description=_("person"))
    def person(self, obj):
        return obj.user

    @admin.display(description=_("consultation"))
    def consultation(self, obj):
        return obj.room

    @admin.display(description=_("round trip (ms)"))
    def rtt(self, obj):
        return "-" if obj.rtt_ms is None else round(obj.rtt_ms)

    @admin.display(description=_("packets lost (%)"))
    def loss(self, obj):
        return "-" if obj.loss_pct is None else round(obj.loss_pct, 1)

    @admin.display(description=_("received (kbit/s)"))
    def received(self, obj):
        return "-" if obj.kbps_in is None else round(obj.kbps_in)

    @admin.display(description=_("sent (kbit/s)"))
    def sent(self, obj):
        return "-" if obj.kbps_out is None else round(obj.kbps_out)
