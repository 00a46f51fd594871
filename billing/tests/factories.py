import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from billing.models import BillingRecord, DoctorRate
from billing.money import split
from rooms.models import RoomStatus
from rooms.tests.factories import RoomFactory


class EndedRoomFactory(RoomFactory):
    """A consultation held: both were in the call for 20 minutes, and it ended."""

    status = RoomStatus.ENDED
    ended_at = factory.LazyFunction(timezone.now)
    call_started_at = factory.LazyAttribute(lambda room: room.ended_at - dt.timedelta(minutes=21))
    both_present_seconds = 1200


class BillingRecordFactory(DjangoModelFactory):
    """A record as consultation_register writes it: R$ 150,00 at 30 % unless told."""

    class Meta:
        model = BillingRecord

    class Params:
        ended = factory.LazyFunction(timezone.now)

    room = factory.SubFactory(EndedRoomFactory, ended_at=factory.SelfAttribute("..ended"))
    doctor = factory.SelfAttribute("room.doctor")
    patient = factory.SelfAttribute("room.patient")
    consultation_fee = Decimal("150.00")
    platform_percentage = Decimal("30.00")
    gross = factory.SelfAttribute("consultation_fee")
    platform_amount = factory.LazyAttribute(
        lambda r: split(r.consultation_fee, r.platform_percentage)[0]
    )
    doctor_amount = factory.LazyAttribute(
        lambda r: split(r.consultation_fee, r.platform_percentage)[1]
    )
    seconds_together = factory.SelfAttribute("room.both_present_seconds")
    ended_at = factory.SelfAttribute("room.ended_at")


class DoctorRateFactory(DjangoModelFactory):
    class Meta:
        model = DoctorRate

    consultation_fee = None
    platform_percentage = None
