"""Who sees, joins, opens and finishes rooms: the scoped querysets and the checks agree."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts import services as accounts_services
from accounts.permissions import can_view_patient, patients_visible_to
from accounts.tests.factories import PatientFactory
from rooms.models import RoomStatus
from rooms.permissions import (
    can_finish_room,
    can_join_room,
    can_open_room_for,
    patients_for_new_room,
    rooms_joinable_by,
    rooms_visible_to,
)
from rooms.tests.factories import RoomFactory

VIEWERS = ["anonymous", "patient", "other_patient", "doctor", "other_doctor", "admin"]


@pytest.fixture
def rooms(doctor, patient, other_doctor, other_patient):
    return {
        "open": RoomFactory(doctor=doctor, patient=patient),
        "ended": RoomFactory(
            doctor=doctor, patient=patient, status=RoomStatus.ENDED, ended_at=timezone.now()
        ),
        "other": RoomFactory(doctor=other_doctor, patient=other_patient),
    }


@pytest.fixture
def people(admin_user, doctor, patient, other_doctor, other_patient):
    return {
        "anonymous": AnonymousUser(),
        "patient": patient,
        "other_patient": other_patient,
        "doctor": doctor,
        "other_doctor": other_doctor,
        "admin": admin_user,
    }


# viewer -> (rooms visible, rooms joinable)
EXPECTED = {
    "anonymous": (set(), set()),
    "patient": ({"open", "ended"}, {"open", "ended"}),
    "other_patient": ({"other"}, {"other"}),
    "doctor": ({"open", "ended"}, {"open", "ended"}),
    "other_doctor": ({"other"}, {"other"}),
    "admin": ({"open", "ended", "other"}, set()),
}


def names(queryset, rooms) -> set[str]:
    by_pk = {room.pk: name for name, room in rooms.items()}
    return {by_pk[pk] for pk in queryset.values_list("pk", flat=True)}


@pytest.mark.parametrize("viewer", VIEWERS)
def test_visible_and_joinable_rooms_for_every_role(viewer, people, rooms):
    user = people[viewer]
    visible, joinable = EXPECTED[viewer]

    assert names(rooms_visible_to(user), rooms) == visible
    assert names(rooms_joinable_by(user), rooms) == joinable


@pytest.mark.parametrize("viewer", VIEWERS)
def test_can_join_room_agrees_with_the_joinable_queryset(viewer, people, rooms):
    user = people[viewer]
    joinable = names(rooms_joinable_by(user), rooms)
    visible = names(rooms_visible_to(user), rooms)

    for name, room in rooms.items():
        assert can_join_room(user, room) is (name in joinable), name
    # Whoever may join a room may also see it.
    assert joinable <= visible


def test_admins_are_never_admitted_into_a_call(admin_user, rooms):
    assert not rooms_joinable_by(admin_user).exists()
    assert not any(can_join_room(admin_user, room) for room in rooms.values())


def test_deactivated_people_neither_see_nor_join_their_rooms(doctor, patient, rooms):
    for person in (doctor, patient):
        person.is_active = False
        person.save(update_fields=["is_active"])

        assert not rooms_visible_to(person).exists()
        assert not rooms_joinable_by(person).exists()
        assert not can_join_room(person, rooms["open"])


@pytest.mark.parametrize("viewer", VIEWERS)
def test_only_the_rooms_doctor_finishes_it(viewer, people, rooms):
    user = people[viewer]

    finishable = {name for name, room in rooms.items() if can_finish_room(user, room)}

    expected = {"doctor": {"open", "ended"}, "other_doctor": {"other"}}.get(viewer, set())
    assert finishable == expected


def test_a_doctor_opens_rooms_only_for_their_own_active_patients(
    doctor, patient, other_patient, admin_user
):
    inactive = PatientFactory(doctor=doctor, is_active=False)

    assert can_open_room_for(doctor, patient)
    assert not can_open_room_for(doctor, other_patient)
    assert not can_open_room_for(doctor, inactive)
    assert not can_open_room_for(admin_user, patient)
    assert not can_open_room_for(patient, patient)
    assert set(patients_for_new_room(doctor)) == {patient}
    assert not patients_for_new_room(admin_user).exists()


def test_a_doctor_who_had_a_room_with_a_patient_still_sees_them_after_reassignment(
    doctor, other_doctor, patient
):
    RoomFactory(doctor=doctor, patient=patient)

    accounts_services.patient_reassign(patient=patient, doctor=other_doctor)

    assert patient in patients_visible_to(doctor)
    assert can_view_patient(doctor, patient)
    assert can_view_patient(other_doctor, patient)
    # Their rooms together stay theirs; the new doctor does not inherit them.
    assert rooms_visible_to(doctor).filter(patient=patient).count() == 1
    assert not rooms_visible_to(other_doctor).filter(patient=patient).exists()


def test_without_a_room_a_reassigned_patient_is_out_of_the_former_doctors_sight(
    doctor, other_doctor, patient
):
    accounts_services.patient_reassign(patient=patient, doctor=other_doctor)

    assert not can_view_patient(doctor, patient)
    assert not can_open_room_for(doctor, patient)


def test_another_doctors_rooms_show_a_doctor_none_of_their_patients(
    doctor, other_doctor, other_patient
):
    RoomFactory(doctor=other_doctor, patient=other_patient)

    assert not can_view_patient(doctor, other_patient)
    assert other_patient not in patients_visible_to(doctor)
