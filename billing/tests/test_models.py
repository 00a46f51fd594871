"""The database itself refuses impossible billing rows, and nothing of billing is deleted.

The checks are run with raw SQL: no model, form or service stands in the way,
so what refuses the row is the constraint alone. Each refusal has a valid
twin that goes through, so the test cannot pass because the SQL is wrong.
"""

from decimal import Decimal
from importlib import import_module

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.models.deletion import ProtectedError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import (
    BillingRecord,
    BillingRecordEvent,
    BillingSettings,
    DoctorRate,
    RateChange,
    RateField,
    RecordAction,
)

from .factories import BillingRecordFactory, EndedRoomFactory

pytestmark = pytest.mark.django_db


def run(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def refused(sql, params=()):
    with pytest.raises(IntegrityError):
        run(sql, params)


def moment():
    return connection.ops.adapt_datetimefield_value(timezone.now())


def insert_record(**overrides):
    room = EndedRoomFactory()
    values = {
        "room_id": room.pk,
        "doctor_id": room.doctor_id,
        "patient_id": room.patient_id,
        "consultation_fee": Decimal("150.00"),
        "platform_percentage": Decimal("30.00"),
        "gross": Decimal("150.00"),
        "platform_amount": Decimal("45.00"),
        "doctor_amount": Decimal("105.00"),
        "seconds_together": 600,
        "ended_at": moment(),
        "created_at": moment(),
        "voided_at": None,
        "voided_by_id": None,
        "void_reason": "",
        **overrides,
    }
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    run(f"INSERT INTO billing_billingrecord ({columns}) VALUES ({marks})", list(values.values()))  # noqa: S608


def insert_rate(doctor, fee, percentage):
    run(
        "INSERT INTO billing_doctorrate (doctor_id, consultation_fee, platform_percentage,"
        " updated_at) VALUES (%s, %s, %s, %s)",
        [doctor.pk, fee, percentage, moment()],
    )


def update_settings(**values):
    assignments = ", ".join(f"{column} = %s" for column in values)
    run(f"UPDATE billing_billingsettings SET {assignments} WHERE id = 1", list(values.values()))  # noqa: S608


@pytest.fixture
def clinic():
    return BillingSettings.load()


# --- Fees and shares ------------------------------------------------------------


@pytest.mark.parametrize("fee", ["-1.00", "0.00", "100000.01", "999999.00"])
def test_the_clinic_fee_must_be_above_zero_and_at_most_one_hundred_thousand(clinic, fee):
    with pytest.raises(IntegrityError):
        update_settings(consultation_fee=Decimal(fee))

    update_settings(consultation_fee=Decimal("100000.00"))
    update_settings(consultation_fee=Decimal("0.01"))


@pytest.mark.parametrize("percentage", ["-1.00", "-0.01", "100.01"])
def test_the_clinic_share_must_be_between_0_and_100(clinic, percentage):
    with pytest.raises(IntegrityError):
        update_settings(platform_percentage=Decimal(percentage))

    update_settings(platform_percentage=Decimal("0.00"))
    update_settings(platform_percentage=Decimal("100.00"))


@pytest.mark.parametrize(
    ("fee", "percentage"),
    [("-1.00", None), ("0.00", None), ("100000.01", None), (None, "-1.00"), (None, "100.01")],
)
def test_a_doctors_rate_has_the_same_limits(doctor, fee, percentage):
    with pytest.raises(IntegrityError):
        insert_rate(doctor, fee and Decimal(fee), percentage and Decimal(percentage))

    insert_rate(doctor, None, None)  # both empty: the clinic's defaults
    assert DoctorRate.objects.get(doctor=doctor).consultation_fee is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"consultation_fee": Decimal("-150.00"), "gross": Decimal("-150.00")},
        {"consultation_fee": Decimal("0.00")},
        {"consultation_fee": Decimal("100000.01")},
        {"platform_percentage": Decimal("-1.00")},
        {"platform_percentage": Decimal("100.01")},
    ],
)
def test_a_record_keeps_a_fee_and_share_in_range(overrides):
    with pytest.raises(IntegrityError):
        insert_record(**overrides)

    insert_record()
    assert BillingRecord.objects.count() == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"doctor_amount": Decimal("105.01")},
        {"platform_amount": Decimal("44.99")},
        {"gross": Decimal("150.01")},
        {"platform_amount": Decimal("-1.00"), "doctor_amount": Decimal("151.00")},
        {"platform_amount": Decimal("151.00"), "doctor_amount": Decimal("-1.00")},
    ],
)
def test_a_records_parts_are_never_negative_and_add_up_to_the_gross(overrides):
    with pytest.raises(IntegrityError):
        insert_record(**overrides)


def test_changing_a_records_parts_after_the_fact_is_refused():
    record = BillingRecordFactory()

    refused(
        "UPDATE billing_billingrecord SET doctor_amount = doctor_amount + %s WHERE id = %s",
        [Decimal("0.01"), record.pk],
    )
    record.refresh_from_db()
    assert record.doctor_amount == Decimal("105.00")


def test_a_void_needs_a_reason_and_who_and_when(admin_user):
    record = BillingRecordFactory()
    set_void = "UPDATE billing_billingrecord SET voided_at = %s, voided_by_id = %s, void_reason = %s WHERE id = %s"  # noqa: E501

    refused(set_void, [moment(), admin_user.pk, "", record.pk])
    refused(set_void, [None, None, "Falha técnica", record.pk])
    refused(set_void, [moment(), None, "Falha técnica", record.pk])
    refused(set_void, [None, admin_user.pk, "", record.pk])
    run(set_void, [moment(), admin_user.pk, "Falha técnica", record.pk])
    record.refresh_from_db()
    assert record.is_voided


def test_the_clinic_has_one_settings_row(clinic):
    refused(
        "INSERT INTO billing_billingsettings (id, consultation_fee, platform_percentage,"
        " min_billable_seconds, updated_at) VALUES (%s, %s, %s, %s, %s)",
        [2, Decimal("150.00"), Decimal("30.00"), 0, moment()],
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        BillingSettings.objects.create(pk=2)
    assert list(BillingSettings.objects.values_list("pk", flat=True)) == [1]


def test_a_room_has_at_most_one_record():
    record = BillingRecordFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        BillingRecordFactory(room=record.room)
    with pytest.raises(IntegrityError):
        insert_record(room_id=record.room_id)
    assert BillingRecord.objects.count() == 1


def test_the_data_migration_makes_the_clinic_defaults_row():
    # Run on the historical models, as `migrate` runs it: the row a test database
    # got from it may already be gone (a transactional test flushes every table).
    migration = import_module("billing.migrations.0002_clinic_defaults")
    historical = MigrationLoader(connection).project_state(("billing", "0002_clinic_defaults"))
    BillingSettings.objects.all().delete()

    migration.create_defaults(historical.apps, None)
    migration.create_defaults(historical.apps, None)  # migrating again changes nothing

    clinic = BillingSettings.objects.get()
    assert clinic.pk == 1
    assert clinic.consultation_fee == Decimal("150.00")
    assert clinic.platform_percentage == Decimal("30.00")
    assert clinic.min_billable_seconds == 0
    assert BillingSettings.load() == clinic


def test_the_migration_is_the_one_that_runs():
    plan = MigrationLoader(connection).graph.forwards_plan(("billing", "0002_clinic_defaults"))
    migration = MigrationLoader(connection).get_migration("billing", "0002_clinic_defaults")

    assert ("billing", "0001_initial") in plan
    assert [type(op).__name__ for op in migration.operations] == ["RunPython"]


# --- Nothing is deleted, history is never rewritten -------------------------------


def test_billing_records_are_never_deleted():
    record = BillingRecordFactory()

    with pytest.raises(TypeError):
        record.delete()
    with pytest.raises(TypeError):
        BillingRecord.objects.filter(pk=record.pk).delete()
    with pytest.raises(TypeError):
        BillingRecord.objects.all().delete()
    assert BillingRecord.objects.filter(pk=record.pk).exists()


def test_what_a_record_points_at_cannot_be_deleted_under_it():
    record = BillingRecordFactory()

    with pytest.raises(ProtectedError):
        record.room.delete()
    with pytest.raises(ProtectedError):
        record.doctor.delete()
    with pytest.raises(ProtectedError):
        record.patient.delete()
    assert BillingRecord.objects.filter(pk=record.pk).exists()


@pytest.fixture
def rate_change(admin_user):
    return RateChange.objects.create(
        field=RateField.FEE,
        old_value=Decimal("150.00"),
        new_value=Decimal("180.00"),
        changed_by=admin_user,
    )


@pytest.fixture
def record_event(admin_user):
    return BillingRecordEvent.objects.create(
        record=BillingRecordFactory(),
        action=RecordAction.VOID,
        reason="Falha técnica",
        actor=admin_user,
    )


@pytest.mark.parametrize("name", ["rate_change", "record_event"])
def test_history_rows_are_written_once(request, name):
    row = request.getfixturevalue(name)
    model = type(row)
    before = model.objects.values().get(pk=row.pk)

    with pytest.raises(TypeError):
        row.save()
    with pytest.raises(TypeError):
        row.delete()
    with pytest.raises(TypeError):
        model.objects.filter(pk=row.pk).update(pk=row.pk)
    with pytest.raises(TypeError):
        model.objects.filter(pk=row.pk).delete()
    assert model.objects.values().get(pk=row.pk) == before


POSTGRES = connection.vendor == "postgresql"


def refused_by_the_trigger(verb: str):
    """SQLite's RAISE(ABORT) is an IntegrityError; PostgreSQL's RAISE EXCEPTION a
    ProgrammingError (migration 0006)."""
    error = ProgrammingError if POSTGRES else IntegrityError
    return pytest.raises(error, match=f"rows are never {verb}d")


@pytest.mark.parametrize(
    ("name", "table"),
    [("rate_change", "billing_ratechange"), ("record_event", "billing_billingrecordevent")],
)
def test_raw_sql_cannot_rewrite_history(request, name, table):
    row = request.getfixturevalue(name)
    before = type(row).objects.values().get(pk=row.pk)

    with refused_by_the_trigger("update"):
        run(f"UPDATE {table} SET id = id WHERE id = %s", [row.pk])  # noqa: S608 - a constant

    assert type(row).objects.values().get(pk=row.pk) == before


@pytest.mark.skipif(not POSTGRES, reason="SQLite has no DELETE triggers (they would fire on flush)")
@pytest.mark.parametrize(
    "table", ["billing_billingrecord", "billing_ratechange", "billing_billingrecordevent"]
)
def test_raw_sql_cannot_delete_records_or_history_on_postgresql(table, rate_change, record_event):
    with refused_by_the_trigger("delete"):
        run(f"DELETE FROM {table}")  # noqa: S608 - a constant table name

    assert BillingRecord.objects.exists() and RateChange.objects.exists()


@pytest.mark.parametrize(
    ("fee", "percentage"),
    [("150.15", "30"), ("1234.57", "30"), ("10.05", "30"), ("99999.99", "33.33"), ("0.07", "50")],
)
def test_a_split_the_money_module_makes_is_one_the_database_stores(fee, percentage):
    # SQLite keeps decimals as floating point: 45.05 + 105.10 is not 150.15 there,
    # and the parts-add-up check refused these consultations until it rounded to the cent.
    record = BillingRecordFactory(
        consultation_fee=Decimal(fee), platform_percentage=Decimal(percentage)
    )
    record.refresh_from_db()
    assert record.platform_amount + record.doctor_amount == record.gross == Decimal(fee)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cents=st.integers(min_value=1, max_value=10_000_000),
    hundredths=st.integers(min_value=0, max_value=10_000),
)
def test_every_split_is_stored(cents, hundredths):
    fee, percentage = Decimal(cents) / 100, Decimal(hundredths) / 100
    with transaction.atomic():
        record = BillingRecordFactory(consultation_fee=fee, platform_percentage=percentage)
        assert record.pk
        transaction.set_rollback(True)
