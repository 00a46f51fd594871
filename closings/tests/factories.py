"""Billed consultations and closings as the services make them (no hand-made totals)."""

import datetime as dt
from zoneinfo import ZoneInfo

from accounts.models import DoctorProfile
from billing.tests.factories import BillingRecordFactory
from closings.services import month_close

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
OCTOBER = dt.date(2026, 10, 1)
NOVEMBER = dt.date(2026, 11, 1)
VALID_CPF = "52998224725"


def local(year, month, day, hour=15, minute=0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SAO_PAULO)


def billed(doctor, when: dt.datetime | None = None, **fields):
    """A consultation of `doctor` held and billed, ending at `when` (mid-October)."""
    when = when or local(2026, 10, 15)
    return BillingRecordFactory(room__doctor=doctor, ended=when, **fields)


def with_pix(doctor, key: str = VALID_CPF, key_type: str = "cpf"):
    DoctorProfile.objects.filter(user=doctor).update(pix_key=key, pix_key_type=key_type)
    doctor.doctor_profile.refresh_from_db()
    return doctor


def closing_of(doctor, month: dt.date = OCTOBER, records: int = 2):
    """`records` consultations of `doctor` in `month`, closed: the pending closing."""
    for day in range(1, records + 1):
        billed(doctor, local(month.year, month.month, day + 1))
    result = month_close(month=month)
    return next(c for c in result.created + result.recalculated if c.doctor_id == doctor.pk)
