"""Reading billing: rates in force, who sees which records, and totals by month."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections
from django.db.models import (
    Aggregate,
    Count,
    F,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
)
from django.db.models.expressions import Col, RawSQL
from django.utils import timezone

from accounts.models import Role, User
from rooms.models import Room, RoomStatus

from .models import BillingRecord, BillingSettings, DoctorRate, RateChange
from .money import CENT, split


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
    try:
        own = DoctorRate.objects.get(doctor=doctor)  # one per doctor: get() need not order
    except DoctorRate.DoesNotExist:
        own = None
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


def local_today() -> dt.date:
    """Today in the clinic's time zone: what "this month" means on every page."""
    return timezone.localdate(timezone.now(), clinic_zone())


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The aware start (inclusive) and end (exclusive) of a local calendar month."""
    start = dt.datetime(month.year, month.month, 1, tzinfo=clinic_zone())
    following = dt.datetime(
        month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=clinic_zone()
    )
    return start, following


class _MoneySum(Aggregate):
    """The exact sum of a money column, as a Decimal with two places.

    Summed in whole cents inside the database: SQLite keeps decimal columns as
    floating point, and its SUM of 100,000 rows of 10,05 is 1005000.7000017986;
    integers add up exactly on every engine (64-bit ones: a 32-bit cast overflowed on
    PostgreSQL past R$ 21 million). One SQL template rather than
    Coalesce(Sum(Cast(Round(F() * 100)))): Django compiled those five nodes for
    every sum on every page, several times what the database takes to add up a
    month. SQLite gets a variant without ROUND() (sqlite_template).
    """

    template = "COALESCE(SUM(CAST(ROUND(%(expressions)s * 100) AS BIGINT)), 0)"
    # SQLite's ROUND() writes the number out as text to round it: a third of the time
    # of a month's grouping. A decimal column there holds a float within far less
    # than a cent of its value, so adding half a cent toward its sign and truncating
    # gives the same whole number of cents.
    sqlite_template = (
        "COALESCE(SUM(CAST(%(expressions)s * 100"
        " + (CASE WHEN %(expressions)s < 0 THEN -0.5 ELSE 0.5 END) AS BIGINT)), 0)"
    )
    output_field = IntegerField()
    empty_result_set_value = 0  # what a query Django knows is empty sums to, unasked

    def __init__(self, field: str):
        super().__init__(F(field))

    def as_sqlite(self, compiler, connection, **extra_context):
        # The column is written twice: only a plain column, which has no parameters.
        if isinstance(self.get_source_expressions()[0], Col):
            extra_context["template"] = self.sqlite_template
        return self.as_sql(compiler, connection, **extra_context)

    def get_db_converters(self, connection):
        return [*super().get_db_converters(connection), self._to_money]

    @staticmethod
    def _to_money(value, expression, connection) -> Decimal:
        return (Decimal(int(value)) / 100).quantize(CENT)


def money_sum(field: str) -> _MoneySum:
    """The exact sum of a money column, for aggregate() and annotate()."""
    return _MoneySum(field)


def money_totals() -> dict:
    """How many records and their three sums (`consultations`, `gross`, `platform`,
    `doctors`), for aggregate() or annotate()."""
    return {
        "consultations": Count("pk"),
        "gross": money_sum("gross"),
        "platform": money_sum("platform_amount"),
        "doctors": money_sum("doctor_amount"),
    }


def totals(records: QuerySet[BillingRecord]) -> dict:
    """Counted (not voided) consultations and money, in one query."""
    return records.filter(voided_at__isnull=True).aggregate(**money_totals())


def month_buckets(queryset: QuerySet, field: str, months: list[dt.date]) -> RawSQL:
    """The index in `months` (oldest first) of the local month `field` falls in (None
    outside them).

    Each month is its local bounds (midnight in the clinic's zone, as aware
    datetimes), so the database compares the column against them with its
    index, in C. Django's TruncMonth with a time zone does the same grouping,
    but SQLite runs it as a Python function per row: 0.24 s over 50,000 rows.
    Written as SQL, not as Case(When(...)) x 12: Django compiled those 12
    lookups on every page, several times what the database takes to run them.
    One comparison per month, against its end, since the months go in order
    (a gap between two is a WHEN of its own): twice as fast as testing both
    bounds of each.
    """
    if any(later <= earlier for earlier, later in zip(months, months[1:], strict=False)):
        raise ValueError("months go oldest first, each once")
    connection = connections[queryset.db]
    ops = connection.ops
    meta = queryset.model._meta
    column = f"{ops.quote_name(meta.db_table)}.{ops.quote_name(meta.get_field(field).column)}"
    whens, params, reached = [], [], None
    for index, month in enumerate(months):
        start, end = month_bounds(month)
        if start != reached:  # before the first month, or a gap: in no month
            whens.append(f"WHEN {column} < %s THEN NULL")
            params.append(ops.adapt_datetimefield_value(start))
        whens.append(f"WHEN {column} < %s THEN {index:d}")
        params.append(ops.adapt_datetimefield_value(end))
        reached = end
    # Only quoted names and integers are written into the SQL; the bounds are parameters.
    sql = f"CASE {' '.join(whens)} ELSE NULL END"
    return RawSQL(sql, params, output_field=IntegerField())  # noqa: S611


def _months_spanned(queryset: QuerySet, field: str) -> list[dt.date]:
    """Every local month from the first row's to the last row's."""
    span = queryset.aggregate(first=Min(field), last=Max(field))
    if span["first"] is None:
        return []
    zone = clinic_zone()
    first, last = span["first"].astimezone(zone), span["last"].astimezone(zone)
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(dt.date(year, month, 1))
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return months


def _grouped_by_month(queryset: QuerySet, field: str, months, **aggregates) -> list[dict]:
    months = _months_spanned(queryset, field) if months is None else list(months)
    if not months:
        return []
    start, end = month_bounds(months[0])[0], month_bounds(months[-1])[1]
    rows = (
        queryset.filter(**{f"{field}__gte": start, f"{field}__lt": end})
        .annotate(bucket=month_buckets(queryset, field, months))
        .values("bucket")
        .order_by("bucket")
        .annotate(**aggregates)
    )
    # A row outside `months` (None) can only come of months with gaps between them.
    return [
        {"month": months[row.pop("bucket")], **row} for row in rows if row["bucket"] is not None
    ]


def totals_by_month(
    records: QuerySet[BillingRecord], *, months: list[dt.date] | None = None
) -> list[dict]:
    """Counted consultations and money per local month (`months`, oldest first, or
    every month the records span), grouped in the database in one query (two
    without `months`). Months without records are left out."""
    return _grouped_by_month(
        records.filter(voided_at__isnull=True),
        "ended_at",
        months,
        **money_totals(),
    )


def month_in(rows: list[dict], month: dt.date) -> dict:
    """`month`'s totals out of totals_by_month's `rows` (zeros when it has none), as
    totals() gives them."""
    for row in rows:
        if row["month"] == month:
            return {key: row[key] for key in money_totals()}
    return {"consultations": 0, **dict.fromkeys(("gross", "platform", "doctors"), Decimal("0.00"))}


def this_month(records: QuerySet[BillingRecord]) -> dict:
    """The clinic's current local month (`month`, its first day) and its `totals`."""
    month = local_today().replace(day=1)
    start, end = month_bounds(month)
    return {"month": month, **totals(records.filter(ended_at__gte=start, ended_at__lt=end))}


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


# Reports


def records_between(
    records: QuerySet[BillingRecord], start: dt.datetime, end: dt.datetime
) -> QuerySet[BillingRecord]:
    """Records whose consultation ended in [start, end): aware bounds from a Period."""
    return records.filter(ended_at__gte=start, ended_at__lt=end)


def counted(records: QuerySet[BillingRecord]) -> QuerySet[BillingRecord]:
    return records.filter(voided_at__isnull=True)


# What billing.tables shows of a record, named as the rows' attributes; voided
# rows also say who voided them.
LISTED = (
    *("pk", "ended_at", "seconds_together", "gross", "platform_amount", "doctor_amount"),
    *("voided_at", "void_reason", "patient__first_name", "patient__last_name", "patient__email"),
)
LISTED_VOIDED = (*LISTED, "voided_by__first_name", "voided_by__last_name")


def listed(records: QuerySet[BillingRecord], *, voided: bool = False) -> QuerySet:
    """Records as billing.tables shows them, with the patient's name (and, for `voided`
    ones, the voider's), in one query. Named rows, not models: building a record and its
    patient per line cost half the query's time (0.65 of 1.3 ms for 34 lines)."""
    return records.values_list(*(LISTED_VOIDED if voided else LISTED), named=True)


def no_shows(*, start: dt.datetime, end: dt.datetime, doctor: User | None = None):
    """Rooms that ended in [start, end) without a billing record: "não realizada".

    Either the two were never in the call together, or not for the minimum time.
    """
    rooms = Room.objects.filter(
        status=RoomStatus.ENDED, ended_at__gte=start, ended_at__lt=end, billing_record__isnull=True
    )
    if doctor is not None:
        rooms = rooms.filter(doctor=doctor)
    return rooms.order_by("-ended_at", "-pk")


def listed_no_shows(rooms: QuerySet[Room]) -> QuerySet:
    """no_shows() as billing.tables writes them, with the patient's name: named rows in
    one query (models and a join per line cost 0.5 of the query's 1.2 ms of Python)."""
    return rooms.values_list(
        *("pk", "ended_at", "call_started_at", "both_present_seconds"),
        *("patient__first_name", "patient__last_name", "patient__email"),
        named=True,
    )


def no_shows_by_month(rooms, *, months: list[dt.date]) -> dict[dt.date, int]:
    """No-show counts per local month of `months`, grouped in the database."""
    rows = _grouped_by_month(rooms, "ended_at", months, count=Count("pk"))
    return {row["month"]: row["count"] for row in rows}


@dataclass(frozen=True)
class MonthRevenue:
    month: dt.date
    consultations: int
    gross: Decimal
    platform: Decimal
    doctors: Decimal
    no_shows: int


def revenue_by_month(*, months: list[dt.date], doctor: User | None = None) -> list[MonthRevenue]:
    """The clinic's (or one doctor's) counted money and no-shows for each of `months`
    (first days, oldest first), every month present. Two grouped queries, whatever
    the number of records."""
    start, end = month_bounds(months[0])[0], month_bounds(months[-1])[1]
    records = records_between(BillingRecord.objects.all(), start, end)
    if doctor is not None:
        records = records.filter(doctor=doctor)
    money = {row["month"]: row for row in totals_by_month(records, months=months)}
    missed = no_shows_by_month(no_shows(start=start, end=end, doctor=doctor), months=months)
    zero = Decimal("0.00")
    return [
        MonthRevenue(
            month=month,
            consultations=money.get(month, {}).get("consultations", 0),
            gross=money.get(month, {}).get("gross", zero),
            platform=money.get(month, {}).get("platform", zero),
            doctors=money.get(month, {}).get("doctors", zero),
            no_shows=missed.get(month, 0),
        )
        for month in months
    ]


@dataclass(frozen=True)
class DoctorRevenue:
    doctor: User
    consultations: int
    gross: Decimal
    platform: Decimal
    doctors: Decimal
    no_shows: int


def revenue_by_doctor(
    *, start: dt.datetime, end: dt.datetime, doctor: User | None = None
) -> list[DoctorRevenue]:
    """Each doctor with a consultation (counted or not held) in [start, end), by name.

    Three queries: money grouped by doctor, no-shows grouped by doctor, the doctors.
    """
    records = counted(records_between(BillingRecord.objects.all(), start, end))
    rooms = no_shows(start=start, end=end, doctor=doctor)
    if doctor is not None:
        records = records.filter(doctor=doctor)
    money = {
        row["doctor"]: row
        for row in records.values("doctor").order_by("doctor").annotate(**money_totals())
    }
    missed = dict(
        rooms.order_by().values("doctor").annotate(count=Count("pk")).values_list("doctor", "count")
    )
    doctors = User.objects.filter(pk__in=set(money) | set(missed)).select_related("doctor_profile")
    zero = Decimal("0.00")
    rows = [
        DoctorRevenue(
            doctor=person,
            consultations=money.get(person.pk, {}).get("consultations", 0),
            gross=money.get(person.pk, {}).get("gross", zero),
            platform=money.get(person.pk, {}).get("platform", zero),
            doctors=money.get(person.pk, {}).get("doctors", zero),
            no_shows=missed.get(person.pk, 0),
        )
        for person in doctors
    ]
    return sorted(rows, key=lambda row: (row.doctor.get_full_name().casefold(), row.doctor.pk))


def revenue_totals(rows: list[DoctorRevenue]) -> dict:
    """The totals row of a per-doctor table (sums of already grouped rows)."""
    zero = Decimal("0.00")
    return {
        "consultations": sum(row.consultations for row in rows),
        "gross": sum((row.gross for row in rows), zero),
        "platform": sum((row.platform for row in rows), zero),
        "doctors": sum((row.doctors for row in rows), zero),
        "no_shows": sum(row.no_shows for row in rows),
    }
