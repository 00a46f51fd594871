from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import short_local_datetime


def duration_text(seconds: int) -> str:
    """A call's length as people say it: "12 min", "1 h 05 min"."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return gettext("less than a minute")
    hours, minutes = divmod(minutes, 60)
    if hours:
        return gettext("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
    return gettext("%(m)d min") % {"m": minutes}


class RoomStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ENDED = "ended", _("Ended")


class Room(models.Model):
    """One consultation between one doctor and one patient. Once ended, closed for good."""

    code = models.CharField(_("code"), max_length=16, unique=True)
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="doctor_rooms",
        verbose_name=_("doctor"),
    )
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="patient_rooms",
        verbose_name=_("patient"),
    )
    status = models.CharField(
        _("status"), max_length=5, choices=RoomStatus.choices, default=RoomStatus.OPEN
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_activity_at = models.DateTimeField(_("last activity"), auto_now_add=True)
    call_started_at = models.DateTimeField(_("call started at"), null=True, blank=True)
    # While both are present: since when (to add to both_present_seconds when one leaves).
    both_present_since = models.DateTimeField(null=True, blank=True, editable=False)
    both_present_seconds = models.PositiveIntegerField(_("seconds both were present"), default=0)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("ended by"),
    )

    class Meta:
        verbose_name = _("consultation room")
        verbose_name_plural = _("consultation rooms")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "last_activity_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", ended_at__isnull=True)
                | models.Q(status="ended", ended_at__isnull=False),
                name="rooms_room_ended_has_time",
            ),
            # One open room per doctor and patient: a second "Open a room" must
            # not hand the patient a different link (services.room_create).
            models.UniqueConstraint(
                fields=["doctor", "patient"],
                condition=models.Q(status="open"),
                name="rooms_one_open_room_per_pair",
            ),
        ]

    def __str__(self):
        return gettext("Consultation of %(patient)s with %(doctor)s, %(time)s") % {
            "patient": self.patient,
            "doctor": self.doctor,
            "time": short_local_datetime(self.created_at),
        }

    @property
    def is_open(self) -> bool:
        return self.status == RoomStatus.OPEN

    @property
    def duration_display(self) -> str:
        """Time both were present, as people say it."""
        return duration_text(self.both_present_seconds)

    @property
    def was_billable(self) -> bool:
        """The consultation was registered as billable, and that record was not voided.

        Not "the call started": a call shorter than the clinic's minimum is not
        billed. billing's one-to-one `billing_record` is read by name (rooms does
        not import billing); list pages select it with the room.
        """
        record = getattr(self, "billing_record", None)
        return record is not None and record.voided_at is None


class ServerInstance(models.Model):
    """A running server process. Its heartbeat tells the others it is alive.

    Presence rows point at the process holding the socket, so when a process
    dies (killed, crashed, machine lost) the surviving processes see its
    heartbeat go stale and report its participants as lost: one write per
    process every few seconds, instead of one per socket.
    """

    id = models.CharField(primary_key=True, max_length=32)
    started_at = models.DateTimeField()
    last_beat_at = models.DateTimeField()

    def __str__(self):
        return self.id


class Presence(models.Model):
    """Who is connected to which room, through which channel. Shared by every server process."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="presences")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200)
    # The login session the socket came with: logging out closes exactly its sockets.
    session_key = models.CharField(max_length=40, blank=True, db_index=True)
    server = models.ForeignKey(ServerInstance, on_delete=models.CASCADE, related_name="+")
    audio = models.BooleanField(default=True)
    video = models.BooleanField(default=True)
    connected_at = models.DateTimeField()

    class Meta:
        verbose_name = _("presence in a call")
        verbose_name_plural = _("presences in calls")
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="rooms_one_presence_per_user"),
        ]

    def __str__(self):
        return gettext("%(user)s in the call since %(time)s") % {
            "user": self.user,
            "time": short_local_datetime(self.connected_at),
        }


class CallSample(models.Model):
    """A call-quality sample a participant's browser sent (`stats` frame)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="samples")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rtt_ms = models.FloatField(null=True)
    loss_pct = models.FloatField(null=True)
    kbps_in = models.FloatField(null=True)
    kbps_out = models.FloatField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("call quality sample")
        verbose_name_plural = _("call quality samples")

    def __str__(self):
        return gettext("Call quality of %(user)s, %(time)s") % {
            "user": self.user,
            "time": short_local_datetime(self.created_at),
        }


class TelemedicineConsent(models.Model):
    """A patient's acceptance of the telemedicine consent term (CFM Resolution 2.314/2022)."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="telemedicine_consents",
        verbose_name=_("patient"),
    )
    version = models.CharField(_("term version"), max_length=20)
    text_hash = models.CharField(_("term hash (SHA-256)"), max_length=64)
    accepted_at = models.DateTimeField(_("accepted at"))
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("telemedicine consent")
        verbose_name_plural = _("telemedicine consents")
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "version"], name="rooms_consent_once_per_version"
            ),
        ]

    def __str__(self):
        return gettext("Consent of %(patient)s to the term version %(version)s, %(time)s") % {
            "patient": self.patient,
            "version": self.version,
            "time": short_local_datetime(self.accepted_at),
        }
