"""Two admins at once, two month closes at once: the result is what one would leave.

Threads with their own connections, on SQLite and (with DATABASE_URL) PostgreSQL.
"""

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.tests.factories import AdminFactory, DoctorFactory
from billing.selectors import local_today
from closings import services
from closings.models import ClosingEvent, MonthlyClosing

from .factories import billed, closing_of, local

pytestmark = pytest.mark.django_db(transaction=True)
ROUNDS = 5


def at_once(*calls):
    barrier = threading.Barrier(len(calls))
    results, errors = [], []

    def run(call):
        try:
            barrier.wait(timeout=10)
            results.append(call())
        except ValidationError as refusal:
            errors.append(refusal.code)
        except Exception as error:  # noqa: BLE001 - reported by the assertions
            errors.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


def test_two_admins_confirming_one_payment_at_once_make_one_confirmation():
    first, second = AdminFactory(), AdminFactory()
    for _ in range(ROUNDS):
        closing = closing_of(DoctorFactory())

        results, errors = at_once(
            *(
                lambda admin=admin, closing=closing: services.closing_confirm_payment(
                    closing=closing, by=admin, paid_on=local_today()
                )
                for admin in (first, second)
            )
        )

        assert len(results) == 1 and errors == ["already_paid"]
        closing.refresh_from_db()
        assert closing.status == "paid" and closing.paid_by == results[0].paid_by
        assert closing.events.filter(action="paid").count() == 1


def test_concurrent_month_closes_make_the_closings_one_would():
    for round_ in range(ROUNDS):
        month = dt.date(2026, round_ + 1, 1)
        doctors = [DoctorFactory() for _ in range(3)]
        for doctor in doctors:
            for day in (3, 12, 28):
                billed(doctor, local(2026, month.month, day))

        results, errors = at_once(*[lambda month=month: services.month_close(month=month)] * 4)

        assert errors == [] and len(results) == 4
        assert sum(len(r.created) for r in results) == 3
        closings = MonthlyClosing.objects.filter(month=month)
        assert sorted(c.doctor_id for c in closings) == sorted(d.pk for d in doctors)
        assert all(c.consultation_count == 3 and c.sequence == 1 for c in closings)
        assert ClosingEvent.objects.filter(closing__month=month, action="created").count() == 3
        # A late consultation, then the race again: it joins its closing, once.
        billed(doctors[0], local(2026, month.month, 27))
        results, errors = at_once(*[lambda month=month: services.month_close(month=month)] * 4)
        assert errors == [] and sum(len(r.recalculated) for r in results) == 1
        assert closings.get(doctor=doctors[0]).consultation_count == 4
