"""A month's payout to one doctor, and the record of every step it went through.

A closing moves pending → paid → received (or pending → cancelled); a doctor's
reported problem sends a paid closing back to pending, flagged. Totals are the
sums of the billing records linked to it (billing.BillingRecord.closing), and
the database refuses a closing whose parts do not add up. Events are written
once and never changed or deleted, by the models, the admin and the database.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import PixKeyType, Role, short_local_datetime
from billing.models import AppendOnlyModel, NeverDeletedQuerySet, cents


def _money(verbose_name):
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, default=0)


def _who(verbose_name):
    """The person who took a step: optional (the system takes some), never deleted."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=verbose_name,
    )


class ClosingStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting payment")
    PAID = "paid", _("Paid")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


class MonthlyClosing(models.Model):
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="closings",
        verbose_name=_("doctor"),
    )
    month = models.DateField(_("month"), help_text=_("The first day of the local month."))
    # 1 for the month's closing; 2, 3… for closings of records that came in
    # after the month's closing was paid.
    sequence = models.PositiveSmallIntegerField(_("closing number"), default=1)
    consultation_count = models.PositiveIntegerField(_("consultations"), default=0)
    gross_total = _money(_("gross"))
    platform_total = _money(_("clinic share"))
    net_total = _money(_("net to the doctor"))
    pix_key = models.CharField(_("PIX key"), max_length=77, blank=True)
    pix_key_type = models.CharField(
        _("PIX key type"), max_length=10, choices=PixKeyType.choices, blank=True
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ClosingStatus.choices,
        default=ClosingStatus.PENDING,
        db_index=True,
    )
    contested = models.BooleanField(_("contested"), default=False)
    problem = models.TextField(_("problem reported"), blank=True)
    created_at = models.DateTimeField(_("closed at"), auto_now_add=True)
    created_by = _who(_("closed by"))
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    paid_at = models.DateTimeField(_("payment confirmed at"), null=True, blank=True)
    paid_by = _who(_("payment confirmed by"))
    payment_reference = models.CharField(_("bank reference"), max_length=32, blank=True)
    payment_note = models.TextField(_("payment note"), blank=True)
    received_at = models.DateTimeField(_("receipt confirmed at"), null=True, blank=True)
    received_note = models.TextField(_("receipt note"), blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancelled_by = _who(_("cancelled by"))
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)

    objects = NeverDeletedQuerySet.as_manager()

    class Meta:
        verbose_name = _("monthly closing")
        verbose_name_plural = _("monthly closings")
        ordering = ["-month", "doctor__first_name", "doctor__last_name", "sequence"]
        indexes = [models.Index(fields=["month", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["doctor", "month", "sequence"], name="closings_one_number_per_month"
            ),
            # Late records join the open (pending) closing: there is one at most.
            models.UniqueConstraint(
                fields=["doctor", "month"],
                condition=Q(status="pending"),
                name="closings_one_pending_per_month",
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="closings_month_first_day"),
            models.CheckConstraint(
                condition=Q(platform_total__gte=0, net_total__gte=0)
                & Q(gross_total=cents(F("platform_total") + F("net_total"))),
                name="closings_parts_add_up",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ClosingStatus.values), name="closings_status_known"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["paid", "received"])
                | Q(paid_on__isnull=False, paid_at__isnull=False, paid_by__isnull=False),
                name="closings_paid_says_when_and_who",
            ),
            models.CheckConstraint(
                condition=~Q(status="received") | Q(received_at__isnull=False),
                name="closings_received_says_when",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled")
                | (Q(cancelled_at__isnull=False) & ~Q(cancel_reason="")),
                name="closings_cancel_has_reason",
            ),
        ]

    def __str__(self):
        label = gettext("Closing of %(doctor)s, %(month)s") % {
            "doctor": self.doctor,
            "month": self.month.strftime("%m/%Y"),
        }
        if self.sequence > 1:
            label += " (%s)" % (gettext("additional no. %(n)d") % {"n": self.sequence})
        return label

    def delete(self, *args, **kwargs):
        raise TypeError("monthly closings are never deleted; cancel them")

    @property
    def is_locked(self) -> bool:
        """Paid or received: it never changes again, nor do its records
        (billing.services.record_is_locked asks this through the relation)."""
        return self.status in (ClosingStatus.PAID, ClosingStatus.RECEIVED)

    @property
    def is_additional(self) -> bool:
        return self.sequence > 1


class ClosingAction(models.TextChoices):
    CREATED = "created", _("Month closed")
    RECALCULATED = "recalculated", _("Recalculated")
    KEY_UPDATED = "key_updated", _("PIX key updated")
    PAID = "paid", _("Payment confirmed")
    RECEIVED = "received", _("Receipt confirmed")
    CONTESTED = "contested", _("Problem reported")
    CANCELLED = "cancelled", _("Cancelled")


class ActorRole(models.TextChoices):
    ADMIN = Role.ADMIN.value, Role.ADMIN.label
    DOCTOR = Role.DOCTOR.value, Role.DOCTOR.label
    SYSTEM = "system", _("System")


class ClosingEvent(AppendOnlyModel):
    """One step of a closing, kept for good."""

    closing = models.ForeignKey(
        MonthlyClosing, on_delete=models.PROTECT, related_name="events", verbose_name=_("closing")
    )
    actor = _who(_("by"))
    actor_role = models.CharField(_("as"), max_length=8, choices=ActorRole.choices)
    action = models.CharField(_("action"), max_length=14, choices=ClosingAction.choices)
    from_status = models.CharField(
        _("from"), max_length=10, choices=ClosingStatus.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=10, choices=ClosingStatus.choices)
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("closing event")
        verbose_name_plural = _("closing events")
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_action_display()} · {short_local_datetime(self.at)}"
