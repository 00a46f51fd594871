"""Billing records and no-shows for the report tests, at a chosen local time."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from billing.models import BillingRecord
from billing.selectors import clinic_zone
from rooms.models import Room, RoomStatus

from .factories import BillingRecordFactory, EndedRoomFactory


def local(year, month, day, hour=10, minute=0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=clinic_zone())


def ended_room(*, doctor, patient, ended_at, call=True) -> Room:
    return EndedRoomFactory(
        doctor=doctor,
        patient=patient,
        call_started_at=ended_at - dt.timedelta(minutes=30) if call else None,
        both_present_seconds=1920 if call else 0,
        ended_at=ended_at,
        ended_by=doctor,
    )


def record(*, doctor, patient, ended_at, fee="150.00", percentage="30.00", seconds=1920, room=None):
    return BillingRecordFactory(
        room=room or ended_room(doctor=doctor, patient=patient, ended_at=ended_at),
        doctor=doctor,
        patient=patient,
        consultation_fee=Decimal(fee),
        platform_percentage=Decimal(percentage),
        seconds_together=seconds,
        ended_at=ended_at,
    )


def many_records(*, doctor, patient, count: int, ended_at: dt.datetime, voided_by=None) -> None:
    """`count` records in one bulk insert (rooms too): the large size of the query tests."""
    prefix = f"k{int(ended_at.timestamp()) % 100000}{doctor.pk}-"
    rooms = Room.objects.bulk_create(
        Room(
            code=f"{prefix}{i}",
            doctor=doctor,
            patient=patient,
            status=RoomStatus.ENDED,
            call_started_at=ended_at,
            both_present_seconds=600,
            ended_at=ended_at + dt.timedelta(seconds=i),
        )
        for i in range(count)
    )
    if not rooms[0].pk:  # backends that do not return ids from bulk_create
        rooms = list(Room.objects.filter(code__startswith=prefix).order_by("pk"))
    now = timezone.now()
    BillingRecord.objects.bulk_create(
        BillingRecord(
            room=room,
            doctor=doctor,
            patient=patient,
            consultation_fee=Decimal("150.00"),
            platform_percentage=Decimal("30.00"),
            gross=Decimal("150.00"),
            platform_amount=Decimal("45.00"),
            doctor_amount=Decimal("105.00"),
            seconds_together=600,
            ended_at=room.ended_at,
            voided_at=now if voided_by and i % 10 == 0 else None,
            voided_by=voided_by if i % 10 == 0 else None,
            void_reason="Falha técnica" if voided_by and i % 10 == 0 else "",
        )
        for i, room in enumerate(rooms)
    )
