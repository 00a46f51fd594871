"""Consultations in the Django admin: read-only, for back-office questions.

Rooms change only through the services (finalizing registers the billable
consultation once), so here nothing is added, changed or deleted. A room's
code is its link and is not shown: admins are never admitted into a call.
"""

import datetime as dt

from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.admin import DoctorFilter, ReadOnlyAdmin
from accounts.models import short_local_datetime

from .consumers import Heartbeat
from .models import CallSample, Presence, Room, ServerInstance, TelemedicineConsent


class RoomDoctorFilter(DoctorFilter):
    related_name = "doctor_rooms"


@admin.register(Room)
class RoomAdmin(ReadOnlyAdmin):
    list_display = ("opened", "patient", "doctor", "status", "together", "ended")
    list_select_related = ("patient", "doctor__doctor_profile", "ended_by__doctor_profile")
    list_filter = ("status", RoomDoctorFilter, "created_at")
    date_hierarchy = "created_at"
    search_fields = (
        "patient__first_name", "patient__last_name", "patient__email",
        "doctor__first_name", "doctor__last_name", "doctor__email",
    )  # fmt: skip
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

    list_display = ("person", "consultation", "since", "microphone", "camera")
    list_select_related = ("user__doctor_profile", "room__patient", "room__doctor__doctor_profile")
    fields = list_display
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

    @admin.display(description=_("Microphone"), boolean=True)
    def microphone(self, obj):
        return obj.audio

    @admin.display(description=_("Camera"), boolean=True)
    def camera(self, obj):
        return obj.video


@admin.register(CallSample)
class CallSampleAdmin(ReadOnlyAdmin):
    """What the browsers measured during calls, to answer "the call was bad"."""

    list_display = ("measured", "person", "consultation", "rtt", "loss", "received", "sent")
    list_select_related = ("user__doctor_profile", "room__patient", "room__doctor__doctor_profile")
    date_hierarchy = "created_at"
    search_fields = ("user__first_name", "user__last_name", "user__email")
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


# The model has no Meta names (its table is bookkeeping of the call servers);
# they are given here rather than by a migration, since only this page shows them.
ServerInstance._meta.verbose_name = _("server process")
ServerInstance._meta.verbose_name_plural = _("server processes")


@admin.register(ServerInstance)
class ServerInstanceAdmin(ReadOnlyAdmin):
    """The processes holding call sockets, and whether their heartbeat is fresh.

    A process missing its beats for Heartbeat.STALE_AFTER seconds is taken for
    dead: its participants are reported lost, and its row removed once empty.
    """

    list_display = ("process", "started", "last_beat", "alive", "connections")
    fields = list_display
    readonly_fields = fields
    ordering = ("-last_beat_at",)

    def get_queryset(self, request):
        held = (
            Presence.objects.filter(server=OuterRef("pk"))
            .order_by()
            .values("server")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return super().get_queryset(request).annotate(held=Coalesce(Subquery(held), 0))

    @admin.display(description=_("process"), ordering="id")
    def process(self, obj):
        return obj.id

    @admin.display(description=_("started at"), ordering="started_at")
    def started(self, obj):
        return short_local_datetime(obj.started_at)

    @admin.display(description=_("last heartbeat at"), ordering="last_beat_at")
    def last_beat(self, obj):
        return short_local_datetime(obj.last_beat_at)

    @admin.display(description=_("running"), boolean=True)
    def alive(self, obj):
        return timezone.now() - obj.last_beat_at < dt.timedelta(seconds=Heartbeat.STALE_AFTER)

    @admin.display(description=_("people connected"), ordering="held")
    def connections(self, obj):
        return obj.held
