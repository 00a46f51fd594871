"""Every change to billing: rates, the record of a consultation held, voiding and restoring."""

from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from rooms.models import Room

from .models import (
    BillingRecord,
    BillingRecordEvent,
    BillingSettings,
    DoctorRate,
    RateChange,
    RateField,
    RecordAction,
)
from .money import split
from .permissions import can_manage_billing
from .selectors import rate_for
from .signals import record_left_closing

VOID_REASON_MIN_LENGTH = 5


def _require_admin(user: User) -> None:
    if not can_manage_billing(user):
        raise PermissionDenied


def _write_changes(*, row, values: dict, doctor: User | None, by: User) -> list[str]:
    """Set `values` on `row` and log one RateChange per field that really changed."""
    changed = []
    for field, new in values.items():
        old = getattr(row, field)
        if old == new:
            continue
        setattr(row, field, new)
        changed.append(field)
        RateChange.objects.create(
            doctor=doctor,
            field=field,
            old_value=None if old is None else Decimal(old),
            new_value=None if new is None else Decimal(new),
            changed_by=by,
        )
    return changed


@transaction.atomic
def billing_settings_update(
    *, by: User, consultation_fee: Decimal, platform_percentage: Decimal, min_billable_seconds: int
) -> list[str]:
    """Change the clinic's defaults. Returns the fields that changed (each one logged)."""
    _require_admin(by)
    row = BillingSettings.objects.select_for_update().get(pk=BillingSettings.load().pk)
    changed = _write_changes(
        row=row,
        values={
            RateField.FEE: consultation_fee,
            RateField.PERCENTAGE: platform_percentage,
            RateField.MIN_SECONDS: min_billable_seconds,
        },
        doctor=None,
        by=by,
    )
    if changed:
        row.full_clean()
        row.save()
    return changed


@transaction.atomic
def doctor_rate_update(
    *,
    by: User,
    doctor: User,
    consultation_fee: Decimal | None,
    platform_percentage: Decimal | None,
) -> list[str]:
    """Set a doctor's own fee and share; None means "use the clinic default"."""
    _require_admin(by)
    if doctor.role != Role.DOCTOR:
        raise ValidationError(_("Only doctors have a rate."), code="not_a_doctor")
    # Locks the doctor's row so two admins saving at once log two clean changes.
    User.objects.select_for_update().get(pk=doctor.pk)
    row = DoctorRate.objects.filter(doctor=doctor).first() or DoctorRate(doctor=doctor)
    changed = _write_changes(
        row=row,
        values={RateField.FEE: consultation_fee, RateField.PERCENTAGE: platform_percentage},
        doctor=doctor,
        by=by,
    )
    if changed:
        row.full_clean()
        row.save()
    return changed


def consultation_register(*, room: Room) -> BillingRecord | None:
    """Register the consultation that just ended, if it really took place.

    Called by the `consultation_finished` receiver, inside the transaction that
    ended the room: rooms.services.room_finalize lets one caller through, and
    the one-to-one on `room` refuses a second record whatever happens.
    """
    if room.call_started_at is None:
        return None
    settings = BillingSettings.load()
    if room.both_present_seconds < settings.min_billable_seconds:
        return None
    rate = rate_for(room.doctor, clinic=settings)
    platform, doctor_part = split(rate.consultation_fee, rate.platform_percentage)
    return BillingRecord.objects.create(
        room=room,
        doctor=room.doctor,
        patient=room.patient,
        consultation_fee=rate.consultation_fee,
        platform_percentage=rate.platform_percentage,
        gross=rate.consultation_fee,
        platform_amount=platform,
        doctor_amount=doctor_part,
        seconds_together=room.both_present_seconds,
        ended_at=room.ended_at,
    )


def record_is_locked(record: BillingRecord) -> bool:
    """Whether the record is in a paid (or received) monthly closing, which never changes."""
    return record.closing is not None and record.closing.is_locked


@transaction.atomic
def record_void(*, record: BillingRecord, by: User, reason: str) -> BillingRecord:
    """Leave a record out of every total, with the reason. Voiding twice changes nothing."""
    _require_admin(by)
    reason = (reason or "").strip()
    if len(reason) < VOID_REASON_MIN_LENGTH:
        raise ValidationError(
            {"reason": ValidationError(
                _("Say why the record is voided (at least %(n)d characters).")
                % {"n": VOID_REASON_MIN_LENGTH},
                code="reason_required",
            )},
        )  # fmt: skip
    record = BillingRecord.objects.select_for_update().get(pk=record.pk)
    if record.is_voided:
        return record
    if record.closing_id is not None:
        # Locked too, so a payment confirmed at this moment waits for the void
        # and pays the recalculated closing (or the void waits and is refused).
        closing_model = BillingRecord.closing.field.related_model
        record.closing = closing_model.objects.select_for_update().get(pk=record.closing_id)
    if record_is_locked(record):
        raise ValidationError(
            _("This record is in a paid monthly closing and can no longer be voided."),
            code="locked",
        )
    left_closing = record.closing_id
    record.voided_at = timezone.now()
    record.voided_by = by
    record.void_reason = reason
    record.closing = None
    record.save(update_fields=["voided_at", "voided_by", "void_reason", "closing"])
    BillingRecordEvent.objects.create(
        record=record, action=RecordAction.VOID, reason=reason, actor=by
    )
    if left_closing is not None:
        record_left_closing.send(sender=BillingRecord, record=record, closing_id=left_closing)
    return record


@transaction.atomic
def record_restore(*, record: BillingRecord, by: User) -> BillingRecord:
    """Count a voided record again. The void stays in the record's history."""
    _require_admin(by)
    record = BillingRecord.objects.select_for_update().get(pk=record.pk)
    if not record.is_voided:
        return record
    record.voided_at = None
    record.voided_by = None
    record.void_reason = ""
    record.save(update_fields=["voided_at", "voided_by", "void_reason"])
    BillingRecordEvent.objects.create(record=record, action=RecordAction.RESTORE, actor=by)
    return record
