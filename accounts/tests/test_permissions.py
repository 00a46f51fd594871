"""Each scoped queryset and its `can_*` check agree, and both say what the rules say."""

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts import permissions
from accounts.tests.factories import DoctorFactory

TARGETS = ["admin_user", "doctor", "other_doctor", "patient", "other_patient"]
VIEWERS = ["anonymous", "inactive_doctor", *TARGETS]

# (queryset, check, {viewer: the targets it reaches}). Viewers not listed reach nobody.
RULES = {
    "view_patient": (
        permissions.patients_visible_to,
        permissions.can_view_patient,
        {
            "admin_user": {"patient", "other_patient"},
            "doctor": {"patient"},
            "other_doctor": {"other_patient"},
            "patient": {"patient"},
            "other_patient": {"other_patient"},
        },
    ),
    "edit_patient": (
        permissions.patients_editable_by,
        permissions.can_edit_patient,
        {
            "admin_user": {"patient", "other_patient"},
            "doctor": {"patient"},
            "other_doctor": {"other_patient"},
        },
    ),
    "view_user": (
        permissions.users_visible_to,
        permissions.can_view_user,
        {
            "admin_user": set(TARGETS),
            "doctor": {"doctor", "patient"},
            "other_doctor": {"other_doctor", "other_patient"},
            "patient": {"patient", "doctor"},
            "other_patient": {"other_patient", "other_doctor"},
        },
    ),
    "manage_user": (
        permissions.users_manageable_by,
        permissions.can_manage_user,
        {"admin_user": {"doctor", "other_doctor", "patient", "other_patient"}},
    ),
    # These two have no `can_*` companion; views test membership in the queryset.
    "view_doctor": (
        permissions.doctors_visible_to,
        None,
        {
            "admin_user": {"doctor", "other_doctor"},
            "doctor": {"doctor"},
            "other_doctor": {"other_doctor"},
            "patient": {"doctor"},
            "other_patient": {"other_doctor"},
        },
    ),
    "invite": (
        permissions.people_invitable_by,
        None,
        {
            "admin_user": {"doctor", "other_doctor", "patient", "other_patient"},
            "doctor": {"patient"},
            "other_doctor": {"other_patient"},
        },
    ),
}


@pytest.fixture
def people(request, admin_user, doctor, other_doctor, patient, other_patient):
    return {
        "anonymous": AnonymousUser(),
        # Same patients as nobody, but inactive: an inactive account reaches nothing.
        "inactive_doctor": DoctorFactory(is_active=False),
        **{name: request.getfixturevalue(name) for name in TARGETS},
    }


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("target", TARGETS)
def test_queryset_and_check_agree_with_the_rule(people, rule, viewer, target):
    queryset, check, reach = RULES[rule]
    user, other = people[viewer], people[target]
    expected = target in reach.get(viewer, set())

    in_queryset = queryset(user).filter(pk=other.pk).exists()

    assert in_queryset is expected
    if check is not None:
        assert check(user, other) is in_queryset


def test_a_deactivated_doctor_reaches_none_of_their_patients(doctor, patient):
    doctor.is_active = False

    assert not permissions.can_view_patient(doctor, patient)
    assert not permissions.can_edit_patient(doctor, patient)
    assert not permissions.can_view_user(doctor, patient)
