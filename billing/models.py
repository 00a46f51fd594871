"""What a consultation costs, who gets what, and the record of every one held.

Amounts are Decimal with two places. The database itself refuses impossible
rows (a negative fee, a share outside 0–100, parts that do not add up), so
no code path, raw insert or future bug can store them.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import short_local_datetime

MAX_FEE = Decimal("100000.00")
DEFAULT_FEE = Decimal("150.00")
DEFAULT_PERCENTAGE = Decimal("30.00")


def cents(expression) -> Round:
    """`expression` rounded to the cent, for CHECK constraints that add money columns.

    SQLite keeps decimal columns as floating point, where 45.05 + 105.10 is
    150.14999999999998, not the 150.15 stored beside them: without the rounding
    SQLite refused a R$ 150,15 consultation at 30 %. PostgreSQL's numeric sums
    are exact, and rounding them to the cent changes nothing.
    """
    return Round(expression, 2)


def _money(verbose_name, **kwargs):
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, **kwargs)


def _percentage(verbose_name, **kwargs):
    return models.DecimalField(verbose_name, max_digits=5, decimal_places=2, **kwargs)


def _fee_in_range(prefix: str, field: str = "consultation_fee") -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gt": 0, f"{field}__lte": MAX_FEE})
        | Q(**{f"{field}__isnull": True}),
        name=f"{prefix}_fee_in_range",
    )


def _percentage_in_range(prefix: str, field: str = "platform_percentage"):
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": 0, f"{field}__lte": 100}) | Q(**{f"{field}__isnull": True}),
        name=f"{prefix}_percentage_in_range",
    )


class BillingSettings(models.Model):
    """The clinic's defaults. Exactly one row (pk 1), made by a data migration."""

    consultation_fee = _money(_("consultation fee"), default=DEFAULT_FEE)
    platform_percentage = _percentage(_("clinic share (%)"), default=DEFAULT_PERCENTAGE)
    min_billable_seconds = models.PositiveIntegerField(
        _("minimum billable time (seconds)"),
        default=0,
        help_text=_("How long doctor and patient must be in the call together for it to count."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("clinic default")
        verbose_name_plural = _("clinic defaults")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="billing_settings_single_row"),
            _fee_in_range("billing_settings"),
            _percentage_in_range("billing_settings"),
        ]

    def __str__(self):
        return gettext("Clinic billing settings")

    @classmethod
    def load(cls) -> "BillingSettings":
        # The migration creates the row; get_or_create covers a database
        # flushed by a test or by reset_database.
        return cls.objects.get_or_create(pk=1)[0]


class DoctorRate(models.Model):
    """One doctor's own fee and/or clinic share; an empty field means the clinic default."""

    doctor = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="billing_rate",
        verbose_name=_("doctor"),
    )
    consultation_fee = _money(_("consultation fee"), null=True, blank=True)
    platform_percentage = _percentage(_("clinic share (%)"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("doctor's rate")
        verbose_name_plural = _("doctors' rates")
        constraints = [_fee_in_range("billing_rate"), _percentage_in_range("billing_rate")]

    def __str__(self):
        return gettext("Rate of %(doctor)s") % {"doctor": self.doctor}


class RateField(models.TextChoices):
    FEE = "consultation_fee", _("Consultation fee")
    PERCENTAGE = "platform_percentage", _("Clinic share")
    MIN_SECONDS = "min_billable_seconds", _("Minimum billable time")


class NeverDeletedQuerySet(models.QuerySet):
    def delete(self):
        raise TypeError(f"{self.model.__name__} rows are never deleted")


class AppendOnlyQuerySet(NeverDeletedQuerySet):
    """History is written once: no bulk update or delete through the ORM."""

    def update(self, **kwargs):
        raise TypeError(f"{self.model.__name__} rows are never changed")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError(f"{type(self).__name__} rows are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} rows are never deleted")


class RateChange(AppendOnlyModel):
    """One change to the clinic's defaults (doctor empty) or to a doctor's rate.

    `old_value`/`new_value` empty means "the clinic default" for a doctor's field.
    """

    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rate_changes",
        verbose_name=_("doctor"),
    )
    field = models.CharField(_("what changed"), max_length=24, choices=RateField.choices)
    old_value = models.DecimalField(_("from"), max_digits=12, decimal_places=2, null=True)
    new_value = models.DecimalField(_("to"), max_digits=12, decimal_places=2, null=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("rate change")
        verbose_name_plural = _("rate changes")
        ordering = ["-changed_at", "-pk"]

    def __str__(self):
        return gettext("%(field)s changed on %(time)s") % {
            "field": self.get_field_display(),
            "time": short_local_datetime(self.changed_at),
        }


class BillingRecord(models.Model):
    """A consultation that really took place, priced as it was when it ended.

    One per room. Never deleted: a mistake is voided, with a reason, and can be restored.
    """

    room = models.OneToOneField(
        "rooms.Room",
        on_delete=models.PROTECT,
        related_name="billing_record",
        verbose_name=_("consultation"),
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="billing_records",
        verbose_name=_("doctor"),
    )
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("patient"),
    )
    consultation_fee = _money(_("fee used"))
    platform_percentage = _percentage(_("clinic share used (%)"))
    gross = _money(_("gross"))
    platform_amount = _money(_("clinic share"))
    doctor_amount = _money(_("doctor's share"))
    seconds_together = models.PositiveIntegerField(_("time both were present (seconds)"))
    ended_at = models.DateTimeField(_("consultation ended at"), db_index=True)
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("voided by"),
    )
    void_reason = models.TextField(_("reason for voiding"), blank=True)
    # Named as a string: billing never imports closings (closings builds on billing).
    closing = models.ForeignKey(
        "closings.MonthlyClosing",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="records",
        verbose_name=_("monthly closing"),
    )

    objects = NeverDeletedQuerySet.as_manager()

    class Meta:
        verbose_name = _("billing record")
        verbose_name_plural = _("billing records")
        ordering = ["-ended_at", "-pk"]
        indexes = [models.Index(fields=["doctor", "ended_at"])]
        constraints = [
            _fee_in_range("billing_record"),
            _percentage_in_range("billing_record"),
            models.CheckConstraint(
                condition=Q(platform_amount__gte=0, doctor_amount__gte=0)
                & Q(gross=cents(F("platform_amount") + F("doctor_amount"))),
                name="billing_record_parts_add_up",
            ),
            models.CheckConstraint(
                condition=Q(voided_at__isnull=True, voided_by__isnull=True, void_reason="")
                | (Q(voided_at__isnull=False, voided_by__isnull=False) & ~Q(void_reason="")),
                name="billing_record_void_has_reason",
            ),
            # A voided record counts in no total, so it is in no closing.
            models.CheckConstraint(
                condition=Q(voided_at__isnull=True) | Q(closing__isnull=True),
                name="billing_record_voided_not_closed",
            ),
        ]

    def __str__(self):
        return gettext("Consultation of %(patient)s with %(doctor)s, %(time)s") % {
            "patient": self.patient,
            "doctor": self.doctor,
            "time": short_local_datetime(self.ended_at),
        }

    def delete(self, *args, **kwargs):
        raise TypeError("billing records are never deleted; void them")

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None


class RecordAction(models.TextChoices):
    VOID = "void", _("Voided")
    RESTORE = "restore", _("Restored")


class BillingRecordEvent(AppendOnlyModel):
    """Each void and restore of a record, kept for good (the record shows only the latest)."""

    record = models.ForeignKey(
        BillingRecord, on_delete=models.PROTECT, related_name="events", verbose_name=_("record")
    )
    action = models.CharField(_("action"), max_length=8, choices=RecordAction.choices)
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("record correction")
        verbose_name_plural = _("record corrections")
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.get_action_display()} · {short_local_datetime(self.at)}"
