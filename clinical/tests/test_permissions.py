"""Who may read, write and correct clinical content, and see the access log."""

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from clinical.models import EmergencyAccess
from clinical.permissions import (
    can_amend_evolution,
    can_see_access_log,
    can_write_evolution,
    emergency_access_to,
    evolutions_visible_to,
    records_readable_by,
)

pytestmark = pytest.mark.django_db


def can_read_record(user, patient):
    return records_readable_by(user).filter(pk=patient.pk).exists()


# role: (reads the record, writes evolutions, amends the doctor's evolution, sees the log)
EXPECTED = {
    "anonymous": (False, False, False, False),
    "patient": (True, False, False, False),
    "other_patient": (False, False, False, False),
    "doctor": (True, True, True, True),
    "room_doctor": (True, True, False, False),
    "other_doctor": (False, False, False, False),
    "admin_user": (False, False, False, True),
    "grant_admin": (True, False, False, True),
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_rules_per_role(request, patient, evolution, grant, role):
    user = AnonymousUser() if role == "anonymous" else request.getfixturevalue(role)

    got = (
        can_read_record(user, patient),
        can_write_evolution(user, patient),
        can_amend_evolution(user, evolution),
        can_see_access_log(user, patient),
    )

    assert got == EXPECTED[role]
    assert evolutions_visible_to(user).filter(pk=evolution.pk).exists() == got[0]


def test_an_inactive_doctor_reads_nothing(doctor, patient, evolution):
    doctor.is_active = False

    assert not can_read_record(doctor, patient)
    assert not can_amend_evolution(doctor, evolution)


def test_a_grant_opens_one_patient_only_and_only_until_it_expires(
    grant_admin, grant, patient, other_patient
):
    assert list(records_readable_by(grant_admin)) == [patient]

    EmergencyAccess.objects.create(
        admin=grant_admin,
        patient=other_patient,
        reason="x" * 30,
        expires_at=timezone.now() - dt.timedelta(seconds=1),
    )
    assert list(records_readable_by(grant_admin)) == [patient]


def test_the_grant_in_force_is_the_admins_own_for_that_patient(
    admin_user, grant_admin, grant, patient, other_patient, doctor
):
    assert emergency_access_to(grant_admin, patient.pk) == grant
    assert emergency_access_to(grant_admin, other_patient.pk) is None
    assert emergency_access_to(admin_user, patient.pk) is None  # another admin's grant
    assert emergency_access_to(doctor, patient.pk) is None
    assert emergency_access_to(AnonymousUser(), patient.pk) is None
