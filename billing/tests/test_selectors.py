"""Reading billing: rates in force, who sees which records, totals by the clinic's month."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from billing import selectors, services
from billing.models import BillingRecord, BillingSettings, RateChange
from billing.permissions import records_visible_to
from billing.selectors import (
    effective_rate,
    listed,
    month_bounds,
    month_in,
    rate_for,
    totals,
    totals_by_month,
)
from rooms.models import Room, RoomStatus

from .factories import BillingRecordFactory, DoctorRateFactory, EndedRoomFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def record_at(when, **kwargs):
    return BillingRecordFactory(ended=when, **kwargs)


def month_of(row) -> dt.date:
    local = row["month"].astimezone(SAO_PAULO) if isinstance(row["month"], dt.datetime) else None
    value = local or row["month"]
    return dt.date(value.year, value.month, value.day)


# --- The clinic's month -------------------------------------------------------------


def test_the_clinic_is_in_sao_paulo(settings):
    assert settings.TIME_ZONE == "America/Sao_Paulo"
    assert selectors.clinic_zone() == SAO_PAULO


def test_month_bounds_are_local_midnights():
    start, end = month_bounds(dt.date(2026, 10, 15))

    assert start == dt.datetime(2026, 10, 1, 3, tzinfo=UTC)
    assert end == dt.datetime(2026, 11, 1, 3, tzinfo=UTC)


def test_december_ends_in_january():
    start, end = month_bounds(dt.date(2026, 12, 1))

    assert (start, end) == (
        dt.datetime(2026, 12, 1, tzinfo=SAO_PAULO),
        dt.datetime(2027, 1, 1, tzinfo=SAO_PAULO),
    )


def test_a_consultation_ending_late_on_the_31st_counts_in_that_local_month():
    # 23:30 on 31 October in São Paulo is 02:30 on 1 November in UTC.
    late_october = record_at(dt.datetime(2026, 11, 1, 2, 30, tzinfo=UTC))
    early_november = record_at(dt.datetime(2026, 11, 1, 3, 30, tzinfo=UTC))  # 00:30 local
    first_of_october = record_at(dt.datetime(2026, 10, 1, 3, 0, tzinfo=UTC))  # 00:00 local
    last_of_september = record_at(dt.datetime(2026, 10, 1, 2, 59, tzinfo=UTC))

    rows = totals_by_month(BillingRecord.objects.all())

    assert [(month_of(row), row["consultations"]) for row in rows] == [
        (dt.date(2026, 9, 1), 1),
        (dt.date(2026, 10, 1), 2),
        (dt.date(2026, 11, 1), 1),
    ]
    start, end = month_bounds(dt.date(2026, 10, 1))
    october = BillingRecord.objects.filter(ended_at__gte=start, ended_at__lt=end)
    assert set(october) == {late_october, first_of_october}
    assert early_november not in october and last_of_september not in october


def test_monthly_totals_add_the_money_of_counted_records(admin_user):
    when = dt.datetime(2026, 10, 10, 15, tzinfo=UTC)
    record_at(when)
    record_at(when, consultation_fee=Decimal("10.05"))
    voided = record_at(when, consultation_fee=Decimal("999.99"))
    BillingRecord.objects.filter(pk=voided.pk).update(
        voided_at=when, voided_by=admin_user, void_reason="Cortesia"
    )

    (row,) = totals_by_month(BillingRecord.objects.all())

    assert row["consultations"] == 2
    assert (row["gross"], row["platform"], row["doctors"]) == (
        Decimal("160.05"), Decimal("48.02"), Decimal("112.03")
    )  # fmt: skip
    assert totals(BillingRecord.objects.all()) == {
        "consultations": 2,
        "gross": Decimal("160.05"),
        "platform": Decimal("48.02"),
        "doctors": Decimal("112.03"),
    }


@pytest.mark.parametrize("nothing", [BillingRecord.objects.all, BillingRecord.objects.none])
def test_totals_of_nothing_are_zeros(nothing):
    """.none() too: Django answers it without asking the database."""
    assert totals(nothing()) == {
        "consultations": 0,
        "gross": Decimal("0.00"),
        "platform": Decimal("0.00"),
        "doctors": Decimal("0.00"),
    }
    assert totals_by_month(nothing()) == []


@pytest.mark.parametrize("months", [1, 24])
def test_monthly_totals_are_grouped_in_the_database(django_assert_num_queries, doctor, months):
    for i in range(months):
        for _ in range(2):
            when = dt.datetime(2025 + i // 12, i % 12 + 1, 15, 12, tzinfo=UTC)
            BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, ended_at=when))

    records = BillingRecord.objects.filter(doctor=doctor)
    # The span of months first (one indexed MIN/MAX), then one grouped query.
    with django_assert_num_queries(2):
        rows = totals_by_month(records)
        assert len(rows) == months
    asked = [dt.date(2025 + i // 12, i % 12 + 1, 1) for i in range(months)]
    with django_assert_num_queries(1) as captured:
        assert totals_by_month(records, months=asked) == rows

    assert {row["consultations"] for row in rows} == {2}
    assert [row["month"] for row in rows] == asked
    # Compared with the month bounds, not truncated per row: on SQLite Django's
    # TruncMonth with a time zone is a Python function called for every row.
    assert "django_datetime_trunc" not in captured.captured_queries[0]["sql"]


def test_months_with_gaps_leave_out_the_months_between(doctor):
    for month in (1, 2, 3):
        when = dt.datetime(2026, month, 15, 12, tzinfo=UTC)
        BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, ended_at=when))

    rows = totals_by_month(
        BillingRecord.objects.all(), months=[dt.date(2026, 1, 1), dt.date(2026, 3, 1)]
    )

    assert [(row["month"], row["consultations"]) for row in rows] == [
        (dt.date(2026, 1, 1), 1), (dt.date(2026, 3, 1), 1)
    ]  # fmt: skip


def test_a_rows_month_bucket_is_its_local_month_or_none(doctor):
    """Before the first month, in a gap, after the last: no month. A local midnight
    belongs to the month it starts."""
    ends = {
        "december": dt.datetime(2025, 12, 31, 23, 59, tzinfo=SAO_PAULO),
        "january": dt.datetime(2026, 1, 1, 0, 0, tzinfo=SAO_PAULO),
        "january's end": dt.datetime(2026, 1, 31, 23, 59, 59, tzinfo=SAO_PAULO),
        "february": dt.datetime(2026, 2, 15, 12, tzinfo=SAO_PAULO),
        "march": dt.datetime(2026, 3, 1, 0, 0, tzinfo=SAO_PAULO),
        "april": dt.datetime(2026, 4, 1, 0, 0, tzinfo=SAO_PAULO),
    }
    for when in ends.values():
        BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, ended_at=when))
    records = BillingRecord.objects.all()
    months = [dt.date(2026, 1, 1), dt.date(2026, 3, 1)]

    buckets = dict(
        records.annotate(bucket=selectors.month_buckets(records, "ended_at", months)).values_list(
            "ended_at", "bucket"
        )
    )

    assert [buckets[when] for when in ends.values()] == [None, 0, 0, None, 1, None]
    with pytest.raises(ValueError, match="oldest first"):
        selectors.month_buckets(records, "ended_at", months[::-1])


def test_a_months_totals_out_of_the_monthly_rows_are_its_totals(admin_user):
    october = dt.datetime(2026, 10, 10, 15, tzinfo=UTC)
    record_at(october)
    record_at(october, consultation_fee=Decimal("10.05"))
    record_at(dt.datetime(2026, 11, 2, 15, tzinfo=UTC))
    records = BillingRecord.objects.all()
    months = [dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1)]
    rows = totals_by_month(records, months=months)

    for month in months:
        start, end = month_bounds(month)
        assert month_in(rows, month) == totals(
            records.filter(ended_at__gte=start, ended_at__lt=end)
        )
    assert month_in(rows, dt.date(2026, 9, 1))["gross"] == Decimal("0.00")


# --- Rates in force ----------------------------------------------------------------


def test_without_a_rate_of_their_own_a_doctor_is_billed_at_the_defaults(doctor):
    rate = rate_for(doctor)

    assert (rate.consultation_fee, rate.platform_percentage) == (
        Decimal("150.00"),
        Decimal("30.00"),
    )
    assert rate.fee_is_default and rate.percentage_is_default
    assert (rate.platform_amount, rate.doctor_amount) == (Decimal("45.00"), Decimal("105.00"))


@pytest.mark.parametrize(
    ("fee", "percentage", "expected", "defaults"),
    [
        (Decimal("200.00"), None, (Decimal("200.00"), Decimal("30.00")), (False, True)),
        (None, Decimal("0.00"), (Decimal("150.00"), Decimal("0.00")), (True, False)),
        (Decimal("99.99"), Decimal("50.00"), (Decimal("99.99"), Decimal("50.00")), (False, False)),
        (None, None, (Decimal("150.00"), Decimal("30.00")), (True, True)),
    ],
)
def test_each_field_of_a_doctors_rate_falls_back_on_its_own(
    doctor, fee, percentage, expected, defaults
):
    DoctorRateFactory(doctor=doctor, consultation_fee=fee, platform_percentage=percentage)

    rate = rate_for(doctor)

    assert (rate.consultation_fee, rate.platform_percentage) == expected
    assert (rate.fee_is_default, rate.percentage_is_default) == defaults
    assert rate.platform_amount + rate.doctor_amount == rate.consultation_fee


def test_the_defaults_in_force_are_read_at_the_time(doctor):
    BillingSettings.objects.filter(pk=BillingSettings.load().pk).update(
        platform_percentage=Decimal("40.00")
    )

    assert rate_for(doctor).platform_percentage == Decimal("40.00")


def test_a_zero_share_is_a_share_not_a_missing_value():
    clinic = BillingSettings(consultation_fee=Decimal("150.00"), platform_percentage=Decimal("30"))
    own = DoctorRateFactory.build(consultation_fee=None, platform_percentage=Decimal("0.00"))

    rate = effective_rate(own, clinic)

    assert rate.platform_percentage == Decimal("0.00") and not rate.percentage_is_default
    assert effective_rate(None, clinic).platform_percentage == Decimal("30")


# --- Who sees which records ---------------------------------------------------------


@pytest.fixture
def two_records(doctor, patient, other_doctor, other_patient):
    return (
        BillingRecordFactory(room=EndedRoomFactory(doctor=doctor, patient=patient)),
        BillingRecordFactory(room=EndedRoomFactory(doctor=other_doctor, patient=other_patient)),
    )


def test_admins_see_every_record(admin_user, two_records):
    assert set(records_visible_to(admin_user)) == set(two_records)


def test_a_doctor_sees_only_their_own_records(doctor, other_doctor, two_records):
    assert list(records_visible_to(doctor)) == [two_records[0]]
    assert list(records_visible_to(other_doctor)) == [two_records[1]]


def test_patients_see_no_record_not_even_their_own(patient, two_records):
    assert not records_visible_to(patient).exists()


def test_listed_records_come_with_their_people(django_assert_num_queries, admin_user, two_records):
    services.record_void(record=two_records[0], by=admin_user, reason="Teste")
    with django_assert_num_queries(1):
        rows = list(listed(records_visible_to(admin_user), voided=True))

    expected = {(r.pk, r.patient.last_name, r.patient.email) for r in two_records}
    assert {(r.pk, r.patient__last_name, r.patient__email) for r in rows} == expected
    voiders = {r.pk: (r.voided_by__first_name, r.voided_by__last_name) for r in rows}
    assert voiders == {
        two_records[0].pk: ("Alice", "Administradora"),
        two_records[1].pk: (None, None),
    }


def test_money_sums_are_exact_to_the_cent_however_many_rows(doctor, patient):
    """SQLite keeps decimals as floating point: its SUM over these rows is off by
    more than a cent's thousandth. The totals are summed in whole cents."""
    now = timezone.now()
    rooms = Room.objects.bulk_create(
        Room(code=f"sum{i:09d}", doctor=doctor, patient=patient, status=RoomStatus.ENDED,
             ended_at=now, call_started_at=now)
        for i in range(2000)
    )  # fmt: skip
    gross, platform = Decimal("99999.99"), Decimal("30000.00")
    BillingRecord.objects.bulk_create(
        BillingRecord(room=room, doctor=doctor, patient=patient, consultation_fee=gross,
                      platform_percentage=Decimal("30.00"), gross=gross, platform_amount=platform,
                      doctor_amount=gross - platform, seconds_together=60, ended_at=now)
        for room in rooms
    )  # fmt: skip
    records = BillingRecord.objects.filter(doctor=doctor)

    month = timezone.localdate().replace(day=1)
    for row in (totals(records), totals_by_month(records, months=[month])[0]):
        assert row["gross"] == Decimal("199999980.00") and str(row["gross"]) == "199999980.00"
        assert row["platform"] == Decimal("60000000.00")
        assert row["doctors"] == Decimal("139999980.00")
        assert row["platform"] + row["doctors"] == row["gross"]


@pytest.mark.parametrize(
    "values",
    [
        ["10.05"] * 7 + ["0.01", "0.29", "0.57", "1.15", "4.35"],
        ["-10.05", "-0.01", "-0.29", "10.05", "-4.35", "0.00"],
        ["9999999999.99", "0.01", "-9999999999.99", "1234567.89"],
    ],
)
def test_a_money_sum_is_every_cent_of_its_values_whatever_their_sign(admin_user, values):
    """On SQLite the cents are rounded toward the value's sign, not by ROUND()."""
    for value in values:
        RateChange.objects.create(field="fee", old_value=Decimal(value), changed_by=admin_user)

    total = RateChange.objects.aggregate(total=selectors.money_sum("old_value"))["total"]

    assert total == sum(Decimal(v) for v in values)
    assert str(total) == f"{sum(Decimal(v) for v in values):.2f}"
