"""The medical record: evolutions with their revisions, emergency access and the access log.

Records are never deleted (CFM 1.638/2002, Lei 13.787/2018): every foreign key
here is PROTECT, the models and their querysets refuse `delete()`, and the
history and log tables refuse updates in the database itself (migration 0002).
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, short_local_datetime

from .validators import validate_icd10


class NoDeleteQuerySet(models.QuerySet):
    def delete(self):
        raise PermissionDenied(f"{self.model.__name__} rows are never deleted.")


class AppendOnlyQuerySet(NoDeleteQuerySet):
    def update(self, **kwargs):
        raise PermissionDenied(f"{self.model.__name__} rows are never changed.")


class NoDeleteModel(models.Model):
    objects = NoDeleteQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):
        raise PermissionDenied(f"{type(self).__name__} rows are never deleted.")


class AppendOnlyModel(NoDeleteModel):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionDenied(f"{type(self).__name__} rows are never changed.")
        super().save(*args, **kwargs)


class ClinicalText(models.Model):
    """The text of an evolution, as it is now (Evolution) or was once (EvolutionRevision)."""

    notes = models.TextField(_("notes"), blank=True)
    diagnosis = models.TextField(_("diagnosis"), blank=True)
    diagnosis_code = models.CharField(
        _("ICD-10 code"), max_length=6, blank=True, validators=[validate_icd10]
    )
    prescription = models.TextField(_("prescription"), blank=True)

    TEXT_FIELDS = ("notes", "diagnosis", "diagnosis_code", "prescription")

    class Meta:
        abstract = True

    def text(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.TEXT_FIELDS}


class Evolution(ClinicalText, NoDeleteModel):
    """A doctor's note on a patient; amended by revisions, never deleted."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="evolutions",
        verbose_name=_("patient"),
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="authored_evolutions",
        verbose_name=_("doctor"),
    )
    room = models.ForeignKey(
        "rooms.Room",
        on_delete=models.PROTECT,
        related_name="evolutions",
        null=True,
        blank=True,
        verbose_name=_("consultation"),
    )
    # A default rather than auto_now_add, so imported or demo history keeps its dates.
    created_at = models.DateTimeField(_("written at"), default=timezone.now, editable=False)
    # Chosen by the form that sends it: a resend after a lost reply (a dropped
    # connection, a double click) finds this row instead of writing a duplicate
    # that could never be deleted.
    client_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # The latest revision's number and time, kept here so a timeline of any
    # length shows "amended" without a query per row.
    revision = models.PositiveIntegerField(_("revision"), default=1)
    amended_at = models.DateTimeField(_("amended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("evolution")
        verbose_name_plural = _("evolutions")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["patient", "-created_at"])]

    def __str__(self):
        return gettext("Evolution of %(patient)s by %(doctor)s, %(time)s") % {
            "patient": self.patient,
            "doctor": self.doctor,
            "time": short_local_datetime(self.created_at),
        }

    def save(self, *args, **kwargs):
        # The text changes only through services.evolution_amend, which writes
        # the new revision first; the database checks the same (migration 0003).
        if not self._state.adding:
            raise PermissionDenied("An evolution changes only by a new revision.")
        super().save(*args, **kwargs)

    @property
    def is_amended(self) -> bool:
        return self.revision > 1

    @property
    def summary(self) -> str:
        """One line to name it in a list: diagnosis (or its code), else notes, else prescription."""
        text = self.diagnosis or self.diagnosis_code or self.notes or self.prescription
        first_line = text.strip().splitlines()[0] if text.strip() else ""
        return first_line if len(first_line) <= 80 else f"{first_line[:79]}…"


class EvolutionRevision(ClinicalText, AppendOnlyModel):
    """One version of an evolution's text: number 1 is the original, each amendment adds one."""

    evolution = models.ForeignKey(
        Evolution, on_delete=models.PROTECT, related_name="revisions", verbose_name=_("evolution")
    )
    number = models.PositiveIntegerField(_("number"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    reason = models.CharField(_("reason for the correction"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("written at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("evolution revision")
        verbose_name_plural = _("evolution revisions")
        ordering = ["evolution", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["evolution", "number"], name="clinical_revision_unique")
        ]

    def __str__(self):
        return gettext("Version %(number)d of the evolution of %(patient)s, %(time)s") % {
            "number": self.number,
            "patient": self.evolution.patient,
            "time": short_local_datetime(self.created_at),
        }


class EmergencyAccess(AppendOnlyModel):
    """Break-glass: an admin's written reason to read one patient's record for a short time."""

    admin = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("admin"),
    )
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="emergency_accesses",
        verbose_name=_("patient"),
    )
    reason = models.TextField(_("reason"))
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("granted at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("emergency access")
        verbose_name_plural = _("emergency accesses")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["patient", "admin", "expires_at"])]

    def __str__(self):
        return gettext("Emergency access of %(admin)s to %(patient)s, %(time)s") % {
            "admin": self.admin,
            "patient": self.patient,
            "time": short_local_datetime(self.created_at),
        }


class RecordSection(models.TextChoices):
    CHART = "chart", _("Chart")
    EVOLUTION = "evolution", _("Evolution")
    CHART_PRINT = "chart_print", _("Printed chart")
    PRESCRIPTION_PRINT = "prescription_print", _("Printed prescription")
    ADMIN = "admin", _("Back office")


class RecordAccess(AppendOnlyModel):
    """The access log: who opened which part of a patient's record (or tried to), when,
    from where."""

    viewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("opened by"),
    )
    # The role at the time: a doctor who later becomes an admin stays a doctor here.
    viewer_role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="record_accesses",
        verbose_name=_("patient"),
    )
    section = models.CharField(_("what was opened"), max_length=20, choices=RecordSection.choices)
    evolution = models.ForeignKey(
        Evolution,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("evolution"),
    )
    emergency = models.ForeignKey(
        EmergencyAccess,
        on_delete=models.PROTECT,
        related_name="accesses",
        null=True,
        blank=True,
        verbose_name=_("emergency access"),
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # An attempt out of the viewer's scope: they were answered "not found" and
    # saw nothing, and the clinic still sees who tried.
    refused = models.BooleanField(_("refused"), default=False)
    created_at = models.DateTimeField(_("opened at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("record access")
        verbose_name_plural = _("record accesses")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["patient", "-created_at"])]

    def __str__(self):
        return gettext("%(viewer)s opened the record of %(patient)s (%(section)s), %(time)s") % {
            "viewer": self.viewer,
            "section": self.get_section_display(),
            "patient": self.patient,
            "time": short_local_datetime(self.created_at),
        }
