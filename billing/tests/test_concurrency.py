"""Ten finalizations of one room at once leave one billing record, on either database.

rooms.services.room_finalize lets one caller through (a conditional UPDATE)
and the one-to-one on BillingRecord.room refuses a second row whatever
happens; run with DATABASE_URL set for PostgreSQL.
"""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import BillingRecord
from rooms.models import Room, RoomStatus
from rooms.services import room_finalize
from rooms.tests.factories import RoomFactory

WORKERS = 10


def finalize_at_once(room, workers=WORKERS):
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def finalize():
        try:
            barrier.wait(timeout=10)
            results.append(room_finalize(room=room, by=room.doctor))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=finalize) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_finalizations_of_a_consultation_held_register_it_once():
    room = RoomFactory()
    Room.objects.filter(pk=room.pk).update(
        call_started_at=room.created_at, both_present_seconds=900
    )

    results, errors = finalize_at_once(room)

    assert errors == []
    assert sorted(results) == [False] * (WORKERS - 1) + [True]
    record = BillingRecord.objects.get()
    room.refresh_from_db()
    assert room.status == RoomStatus.ENDED
    assert (record.room_id, record.seconds_together) == (room.pk, 900)
    assert (record.gross, record.doctor_amount) == (Decimal("150.00"), Decimal("105.00"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_finalizations_of_a_no_show_register_nothing():
    room = RoomFactory()

    results, errors = finalize_at_once(room)

    assert errors == []
    assert results.count(True) == 1
    assert not BillingRecord.objects.exists()
