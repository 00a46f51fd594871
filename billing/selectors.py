"""Reading billing: rates in force, who sees which records, and totals by month."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth

from accounts.models import Role, User

from .models import BillingRecord, BillingSettings, DoctorRate, RateChange
from .money import split


@dataclass(frozen=True)
class EffectiveRate:
    consultation_fee: Decimal
    platform_percentage: Decimal
    fee_is_default: bool
    percentage_is_default: bool

    @property
    def split(self) -> tuple[Decimal, Decimal]:
        return split(self.consultation_fee, self.platform_percentage)

    @property
    def platform_amount(self) -> Decimal:
        return self.split[0]

    @property
    def doctor_amount(self) -> Decimal:
        return self.split[1]


def rate_for(doctor: User, *, clinic: BillingSettings | None = None) -> EffectiveRate:
    """The fee and share a consultation of `doctor` would be billed at now."""
    clinic = clinic or BillingSettings.load()
    own = DoctorRate.objects.filter(doctor=doctor).first()
    return effective_rate(own, clinic)


def effective_rate(own: DoctorRate | None, clinic: BillingSettings) -> EffectiveRate:
    fee = own.consultation_fee if own else None
    percentage = own.platform_percentage if own else None
    return EffectiveRate(
        consultation_fee=clinic.consultation_fee if fee is None else fee,
        platform_percentage=clinic.platform_percentage if percentage is None else percentage,
        fee_is_default=fee is None,
        percentage_is_default=percentage is None,
    )


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The aware start (inclusive) and end (exclusive) of a local calendar month."""
    start = dt.datetime(month.year, month.month, 1, tzinfo=clinic_zone())
    following = dt.datetime(
        month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=clinic_zone()
    )
    return start, following


_ZERO = Value(Decimal("0.00"), output_field=DecimalField(max_digits=12, decimal_places=2))


def _sum(field: str):
    return Coalesce(Sum(field), _ZERO)


def totals(records: QuerySet[BillingRecord]) -> dict:
    """Counted (not voided) consultations and money, in one query."""
    return records.filter(voided_at__isnull=True).aggregate(
        consultations=Count("pk"),
        gross=_sum("gross"),
        platform=_sum("platform_amount"),
        doctors=_sum("doctor_amount"),
    )


def totals_by_month(records: QuerySet[BillingRecord]) -> list[dict]:
    """Counted consultations and money per local month, grouped in the database."""
    return list(
        records.filter(voided_at__isnull=True)
        .annotate(month=TruncMonth("ended_at", tzinfo=clinic_zone()))
        .values("month")
        .order_by("month")
        .annotate(
            consultations=Count("pk"),
            gross=_sum("gross"),
            platform=_sum("platform_amount"),
            doctors=_sum("doctor_amount"),
        )
    )


def voided(records: QuerySet[BillingRecord]) -> QuerySet[BillingRecord]:
    return records.filter(~Q(voided_at=None))


# Rate pages


@dataclass(frozen=True)
class DoctorRateRow:
    doctor: User
    rate: EffectiveRate


def doctors_with_rates(*, clinic: BillingSettings | None = None) -> list[DoctorRateRow]:
    """Every active doctor with the fee and share they are billed at now, in one query."""
    clinic = clinic or BillingSettings.load()
    doctors = (
        User.objects.filter(role=Role.DOCTOR, is_active=True)
        .select_related("doctor_profile", "billing_rate")
        .order_by("first_name", "last_name", "pk")
    )
    return [
        DoctorRateRow(doctor=d, rate=effective_rate(getattr(d, "billing_rate", None), clinic))
        for d in doctors
    ]


def rate_history(*, doctor: User | None = None) -> QuerySet[RateChange]:
    """Rate changes, newest first; only one doctor's when `doctor` is given."""
    changes = RateChange.objects.select_related(
        "doctor__doctor_profile", "changed_by__doctor_profile"
    ).order_by("-changed_at", "-pk")
    return changes.filter(doctor=doctor) if doctor is not None else changes


def rate_history_doctors() -> list[User]:
    """Doctors to filter the history by: the active ones and anyone with a change logged."""
    with_history = RateChange.objects.filter(doctor__isnull=False).values("doctor")
    return list(
        User.objects.filter(Q(role=Role.DOCTOR, is_active=True) | Q(pk__in=with_history))
        .select_related("doctor_profile")
        .order_by("first_name", "last_name", "pk")
    )
