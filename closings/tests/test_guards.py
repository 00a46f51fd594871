"""The audit trail and the totals hold at every layer: model, queryset, database."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from billing.models import BillingRecord
from closings.models import ClosingEvent, MonthlyClosing

from .factories import NOVEMBER, billed, closing_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(doctor):
    return closing_of(doctor).events.get()


def test_an_event_refuses_to_be_saved_again_or_deleted(event):
    event.note = "reescrito"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()


def test_events_refuse_bulk_update_and_delete(event):
    with pytest.raises(TypeError):
        ClosingEvent.objects.filter(pk=event.pk).update(note="reescrito")
    with pytest.raises(TypeError):
        ClosingEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE closings_closingevent SET note = 'reescrito' WHERE id = %s",
        "UPDATE closings_closingevent SET to_status = 'paid' WHERE id = %s",
        "DELETE FROM closings_closingevent WHERE id = %s",
    ],
)
def test_the_database_refuses_to_change_or_delete_an_event(event, sql):
    with (
        pytest.raises(DatabaseError, match="closingevent rows are never"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    event.refresh_from_db()
    assert (event.note, event.to_status) == ("", "pending")


def test_closings_and_their_records_are_never_deleted(doctor):
    closing = closing_of(doctor)
    with pytest.raises(TypeError):
        closing.delete()
    with pytest.raises(TypeError):
        MonthlyClosing.objects.all().delete()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        # The records and events point at it (PROTECT, and a foreign key in the database).
        cursor.execute("DELETE FROM closings_monthlyclosing WHERE id = %s", [closing.pk])
        connection.check_constraints()  # foreign keys are deferred to commit on both engines


def test_parts_that_do_not_add_up_are_refused(doctor):
    closing = closing_of(doctor)
    with pytest.raises(IntegrityError), transaction.atomic():
        MonthlyClosing.objects.filter(pk=closing.pk).update(net_total=0)


def test_a_voided_record_cannot_stay_in_a_closing(doctor, admin_user):
    record = closing_of(doctor).records.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        BillingRecord.objects.filter(pk=record.pk).update(
            voided_at=timezone.now(), voided_by=admin_user, void_reason="por fora do serviço"
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger")
@pytest.mark.django_db(transaction=True)
def test_postgresql_refuses_totals_that_are_not_the_sum_of_the_records(doctor):
    closing = closing_of(doctor, records=2)
    stranger = billed(doctor)
    member = closing.records.first()

    for change in (
        lambda: MonthlyClosing.objects.filter(pk=closing.pk).update(
            consultation_count=3, gross_total=450, platform_total=135, net_total=315
        ),
        lambda: BillingRecord.objects.filter(pk=stranger.pk).update(closing=closing),
        lambda: BillingRecord.objects.filter(pk=member.pk).update(closing=None),
    ):
        with pytest.raises(DatabaseError, match="totals must equal"), transaction.atomic():
            change()

    closing.refresh_from_db()
    assert closing.consultation_count == closing.records.count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger")
@pytest.mark.django_db(transaction=True)
def test_postgresql_checks_both_closings_a_record_moves_between(doctor):
    first = closing_of(doctor, records=2)
    second = closing_of(doctor, month=NOVEMBER, records=1)
    member = first.records.first()

    with pytest.raises(DatabaseError, match="totals must equal"), transaction.atomic():
        # The record's new closing is recalculated; the one it left is not.
        BillingRecord.objects.filter(pk=member.pk).update(closing=second)
        MonthlyClosing.objects.filter(pk=second.pk).update(
            consultation_count=2,
            gross_total=second.gross_total + member.gross,
            platform_total=second.platform_total + member.platform_amount,
            net_total=second.net_total + member.doctor_amount,
        )

    assert set(first.records.all()) >= {member}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger")
@pytest.mark.django_db(transaction=True)
def test_postgresql_checks_a_closing_again_when_it_changes_after_a_check(doctor):
    closing = closing_of(doctor, records=2)
    stranger = billed(doctor)

    with pytest.raises(DatabaseError, match="totals must equal"), transaction.atomic():
        MonthlyClosing.objects.filter(pk=closing.pk).update(payment_note="conferido")
        connection.check_constraints()  # the closing is checked here and passes
        BillingRecord.objects.filter(pk=stranger.pk).update(closing=closing)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM closings_totals_pending")
        assert cursor.fetchone() == (0,)  # nothing is left noted once a transaction ends
