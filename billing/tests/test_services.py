"""Billing's services: a record for each consultation held, rates with their history, voiding."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.utils import timezone

from billing import selectors, services
from billing.models import (
    BillingRecord,
    BillingRecordEvent,
    BillingSettings,
    DoctorRate,
    RateChange,
    RecordAction,
)
from rooms.models import Room, RoomStatus
from rooms.services import room_finalize

from .factories import BillingRecordFactory, DoctorRateFactory

pytestmark = pytest.mark.django_db


def hold(room: Room, seconds: int = 1200) -> Room:
    """Doctor and patient were in the call together for `seconds`."""
    Room.objects.filter(pk=room.pk).update(
        call_started_at=timezone.now() - dt.timedelta(seconds=seconds + 60),
        both_present_seconds=seconds,
    )
    room.refresh_from_db()
    return room


def set_clinic(**values):
    BillingSettings.objects.filter(pk=BillingSettings.load().pk).update(**values)


# --- The record of a consultation held -----------------------------------------------


def test_finishing_a_consultation_held_registers_it_at_the_doctors_rate(room, doctor, patient):
    hold(room, 1260)

    assert room_finalize(room=room, by=doctor)

    record = BillingRecord.objects.get()
    room.refresh_from_db()
    assert (record.room, record.doctor, record.patient) == (room, doctor, patient)
    assert record.consultation_fee == record.gross == Decimal("150.00")
    assert record.platform_percentage == Decimal("30.00")
    assert (record.platform_amount, record.doctor_amount) == (Decimal("45.00"), Decimal("105.00"))
    assert record.seconds_together == 1260
    assert record.ended_at == room.ended_at
    assert not record.is_voided


def test_finishing_twice_registers_once(room, doctor):
    hold(room)

    room_finalize(room=room, by=doctor)
    assert not room_finalize(room=room, by=doctor)

    assert BillingRecord.objects.count() == 1


def test_registering_is_part_of_ending_the_room(room, doctor):
    # The record is written in the transaction that ends the room: when it cannot
    # be (here a record already holds the room), the room is not ended either.
    BillingRecordFactory(room=room, ended_at=timezone.now())
    hold(room)

    with pytest.raises(IntegrityError):
        room_finalize(room=room, by=doctor)

    room.refresh_from_db()
    assert room.status == RoomStatus.OPEN and room.ended_at is None
    assert BillingRecord.objects.count() == 1


def test_a_no_show_is_not_registered(room, doctor):
    # Nobody met: call_started_at is set only when both were in the room.
    assert room_finalize(room=room, by=doctor)

    assert not BillingRecord.objects.exists()


@pytest.mark.parametrize(("seconds", "registered"), [(299, False), (300, True), (301, True)])
def test_the_minimum_billable_time_counts_from_its_own_second(room, doctor, seconds, registered):
    set_clinic(min_billable_seconds=300)
    hold(room, seconds)

    room_finalize(room=room, by=doctor)

    assert BillingRecord.objects.exists() is registered


def test_with_no_minimum_any_time_together_counts(room, doctor):
    hold(room, 0)

    room_finalize(room=room, by=doctor)

    assert BillingRecord.objects.get().seconds_together == 0


@pytest.mark.parametrize(
    ("fee", "percentage", "expected"),
    [
        (Decimal("200.00"), None, ("200.00", "30.00", "60.00", "140.00")),
        (None, Decimal("50.00"), ("150.00", "50.00", "75.00", "75.00")),
        (Decimal("10.05"), Decimal("30.00"), ("10.05", "30.00", "3.02", "7.03")),
        (None, None, ("150.00", "30.00", "45.00", "105.00")),
    ],
)
def test_a_doctors_own_rate_overrides_each_default_it_sets(room, doctor, fee, percentage, expected):
    DoctorRateFactory(doctor=doctor, consultation_fee=fee, platform_percentage=percentage)
    hold(room)

    room_finalize(room=room, by=doctor)

    record = BillingRecord.objects.get()
    used = (
        record.consultation_fee,
        record.platform_percentage,
        record.platform_amount,
        record.doctor_amount,
    )
    assert used == tuple(Decimal(value) for value in expected)


def test_another_doctors_rate_is_not_used(room, doctor, other_doctor):
    DoctorRateFactory(doctor=other_doctor, consultation_fee=Decimal("999.00"))
    hold(room)

    room_finalize(room=room, by=doctor)

    assert BillingRecord.objects.get().consultation_fee == Decimal("150.00")


def test_changing_a_rate_later_never_changes_a_record(room, doctor, admin_user):
    hold(room)
    room_finalize(room=room, by=doctor)
    before = BillingRecord.objects.values().get()

    services.doctor_rate_update(
        by=admin_user,
        doctor=doctor,
        consultation_fee=Decimal("300.00"),
        platform_percentage=Decimal("10.00"),
    )
    services.billing_settings_update(
        by=admin_user,
        consultation_fee=Decimal("500.00"),
        platform_percentage=Decimal("50.00"),
        min_billable_seconds=0,
    )

    assert BillingRecord.objects.values().get() == before


# --- Rates and their history -----------------------------------------------------------


def history():
    return list(
        RateChange.objects.order_by("pk").values_list(
            "doctor", "field", "old_value", "new_value", "changed_by"
        )
    )


def test_changing_the_defaults_logs_each_field_that_changed(admin_user):
    changed = services.billing_settings_update(
        by=admin_user,
        consultation_fee=Decimal("180.00"),
        platform_percentage=Decimal("30.00"),
        min_billable_seconds=300,
    )

    assert changed == ["consultation_fee", "min_billable_seconds"]
    assert history() == [
        (None, "consultation_fee", Decimal("150.00"), Decimal("180.00"), admin_user.pk),
        (None, "min_billable_seconds", Decimal("0"), Decimal("300"), admin_user.pk),
    ]
    clinic = BillingSettings.load()
    assert (clinic.consultation_fee, clinic.min_billable_seconds) == (Decimal("180.00"), 300)
    assert RateChange.objects.first().changed_at is not None


def test_saving_the_defaults_unchanged_logs_nothing(admin_user):
    changed = services.billing_settings_update(
        by=admin_user,
        consultation_fee=Decimal("150"),  # the same amount, written another way
        platform_percentage=Decimal("30.00"),
        min_billable_seconds=0,
    )

    assert changed == []
    assert history() == []


def test_defaults_out_of_range_are_refused_and_nothing_is_logged(admin_user):
    with pytest.raises(ValidationError):
        services.billing_settings_update(
            by=admin_user,
            consultation_fee=Decimal("0.00"),
            platform_percentage=Decimal("30.00"),
            min_billable_seconds=0,
        )

    assert history() == []
    assert BillingSettings.load().consultation_fee == Decimal("150.00")


def test_a_doctors_rate_change_is_logged_against_the_doctor(admin_user, doctor):
    services.doctor_rate_update(
        by=admin_user, doctor=doctor, consultation_fee=Decimal("200.00"), platform_percentage=None
    )
    services.doctor_rate_update(
        by=admin_user,
        doctor=doctor,
        consultation_fee=None,
        platform_percentage=Decimal("25.00"),
    )

    # An empty old or new value is "the clinic default".
    assert history() == [
        (doctor.pk, "consultation_fee", None, Decimal("200.00"), admin_user.pk),
        (doctor.pk, "consultation_fee", Decimal("200.00"), None, admin_user.pk),
        (doctor.pk, "platform_percentage", None, Decimal("25.00"), admin_user.pk),
    ]
    rate = DoctorRate.objects.get(doctor=doctor)
    assert (rate.consultation_fee, rate.platform_percentage) == (None, Decimal("25.00"))


def test_saving_a_doctors_rate_unchanged_logs_nothing(admin_user, doctor):
    assert services.doctor_rate_update(
        by=admin_user, doctor=doctor, consultation_fee=None, platform_percentage=None
    ) == []  # fmt: skip

    assert history() == []
    assert not DoctorRate.objects.exists()


@pytest.mark.parametrize("who", ["doctor", "patient"])
def test_only_admins_change_rates(request, who, doctor):
    by = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        services.billing_settings_update(
            by=by,
            consultation_fee=Decimal("1.00"),
            platform_percentage=Decimal("0.00"),
            min_billable_seconds=0,
        )
    with pytest.raises(PermissionDenied):
        services.doctor_rate_update(
            by=by, doctor=doctor, consultation_fee=Decimal("1.00"), platform_percentage=None
        )
    assert history() == []
    assert not DoctorRate.objects.exists()


@pytest.mark.parametrize("who", ["patient", "admin_user"])
def test_only_doctors_have_a_rate(request, admin_user, who):
    person = request.getfixturevalue(who)

    with pytest.raises(ValidationError) as refused:
        services.doctor_rate_update(
            by=admin_user, doctor=person, consultation_fee=Decimal("1.00"), platform_percentage=None
        )

    assert refused.value.code == "not_a_doctor"
    assert not DoctorRate.objects.exists()


# --- Voiding and restoring ---------------------------------------------------------------


REASON = "Falha técnica na chamada"


@pytest.fixture
def record(doctor, patient):
    from .factories import EndedRoomFactory

    return BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, patient=patient))


def counted():
    return selectors.totals(BillingRecord.objects.all())


@pytest.mark.parametrize("reason", ["", "   ", "abc", " ab  "])
def test_voiding_needs_a_reason(admin_user, record, reason):
    with pytest.raises(ValidationError) as refused:
        services.record_void(record=record, by=admin_user, reason=reason)

    assert refused.value.error_dict["reason"][0].code == "reason_required"
    record.refresh_from_db()
    assert not record.is_voided
    assert not BillingRecordEvent.objects.exists()


def test_a_voided_record_is_kept_and_left_out_of_every_total(admin_user, record):
    services.record_void(record=record, by=admin_user, reason=f"  {REASON} ")

    record.refresh_from_db()
    assert record.is_voided
    assert (record.voided_by, record.void_reason) == (admin_user, REASON)
    assert counted() == {
        "consultations": 0,
        "gross": Decimal("0.00"),
        "platform": Decimal("0.00"),
        "doctors": Decimal("0.00"),
    }
    assert selectors.totals_by_month(BillingRecord.objects.all()) == []
    assert list(selectors.voided(BillingRecord.objects.all())) == [record]
    event = BillingRecordEvent.objects.get()
    assert (event.record, event.action, event.reason, event.actor) == (
        record, RecordAction.VOID, REASON, admin_user
    )  # fmt: skip


def test_voiding_twice_changes_nothing(admin_user, other_doctor, record):
    services.record_void(record=record, by=admin_user, reason=REASON)
    record.refresh_from_db()
    first = (record.voided_at, record.voided_by, record.void_reason)

    services.record_void(record=record, by=admin_user, reason="Outro motivo qualquer")

    record.refresh_from_db()
    assert (record.voided_at, record.voided_by, record.void_reason) == first
    assert BillingRecordEvent.objects.count() == 1


def test_restoring_counts_the_record_again_and_keeps_the_void_in_its_history(admin_user, record):
    services.record_void(record=record, by=admin_user, reason=REASON)

    services.record_restore(record=record, by=admin_user)

    record.refresh_from_db()
    assert not record.is_voided
    assert (record.voided_by, record.void_reason) == (None, "")
    assert counted()["consultations"] == 1
    assert counted()["gross"] == Decimal("150.00")
    assert [row["consultations"] for row in selectors.totals_by_month(BillingRecord.objects)] == [1]
    events = list(record.events.order_by("pk").values_list("action", "reason", "actor"))
    assert events == [
        (RecordAction.VOID, REASON, admin_user.pk),
        (RecordAction.RESTORE, "", admin_user.pk),
    ]


def test_restoring_a_counted_record_changes_nothing(admin_user, record):
    services.record_restore(record=record, by=admin_user)

    assert not BillingRecordEvent.objects.exists()


@pytest.mark.parametrize("who", ["doctor", "patient"])
def test_only_admins_void_and_restore(request, admin_user, record, who):
    by = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        services.record_void(record=record, by=by, reason=REASON)
    services.record_void(record=record, by=admin_user, reason=REASON)
    with pytest.raises(PermissionDenied):
        services.record_restore(record=record, by=by)

    record.refresh_from_db()
    assert record.is_voided
    assert BillingRecordEvent.objects.count() == 1


def test_a_record_in_a_paid_closing_cannot_be_voided(monkeypatch, admin_user, record):
    monkeypatch.setattr(services, "record_is_locked", lambda record: True)

    with pytest.raises(ValidationError) as refused:
        services.record_void(record=record, by=admin_user, reason=REASON)

    assert refused.value.code == "locked"
    record.refresh_from_db()
    assert not record.is_voided
    assert not BillingRecordEvent.objects.exists()


def test_no_record_is_locked_until_closings_exist(record):
    assert services.record_is_locked(record) is False
