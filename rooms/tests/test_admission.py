"""Admission in written-out SQL (rooms.admission): get_user's rules, and what it loads.

The socket-level refusals (4401, 4403, 4404, 4410) are in test_consumers;
here, the rules admission applies to the room's copy of the user in place of
django.contrib.auth.get_user, and the copies it hands the consumer.
"""

import json

import pytest
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import DoctorFactory, PatientFactory
from rooms import admission, consumers, ice, services
from rooms.admission import Refusal
from rooms.models import Presence, ServerInstance
from rooms.tests.factories import ConsentFactory, RoomFactory, signed_in_session

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class RefusingBackend(ModelBackend):
    """A backend whose get_user is its own: nobody it signed in is found again."""

    def get_user(self, user_id):
        return None


class ClosedBackend(ModelBackend):
    """A backend that lets nobody sign in, active or not."""

    def user_can_authenticate(self, user):
        return False


def admit(session, room, channel="c.1"):
    services.server_beat(server_id="s1")
    return admission.admit(session, room.code, channel, server_id="s1", beat=False)


def test_a_participant_is_admitted_with_their_session(room):
    session = signed_in_session(room.patient)

    join = admit(session, room)

    assert isinstance(join, admission.Join)
    assert join.user.pk == room.patient_id
    presence = Presence.objects.get()
    assert (presence.user_id, presence.channel_name, presence.session_key) == (
        room.patient_id,
        "c.1",
        session.session_key,
    )


@pytest.mark.parametrize("stale", ["password changed", "no hash"])
def test_a_session_whose_hash_does_not_verify_is_signed_out(room, stale):
    session = signed_in_session(room.doctor)
    if stale == "password changed":
        room.doctor.set_password("uma-Senha-nova-2026")
        room.doctor.save()
    else:
        del session[auth.HASH_SESSION_KEY]
        session.save()
    key = session.session_key

    assert admit(session, room) is Refusal.NOT_LOGGED_IN
    # As get_user does: the session is flushed, not left to be tried again.
    assert not Session.objects.filter(session_key=key).exists()
    assert not Presence.objects.exists()


def test_a_session_signed_with_a_fallback_secret_is_admitted_and_keeps_its_key(room, settings):
    session = signed_in_session(room.doctor)
    key = session.session_key
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-rotated-secret-" + "x" * 40

    assert isinstance(admit(session, room), admission.Join)
    # Not rotated here: a socket cannot give the browser the new cookie.
    assert session.session_key == key
    assert Session.objects.filter(session_key=key).exists()


def test_a_backend_no_longer_configured_signs_the_session_out(room):
    session = signed_in_session(room.doctor, backend="rooms.tests.test_admission.ClosedBackend")
    assert admit(session, room) is Refusal.NOT_LOGGED_IN


def test_the_backends_own_rules_decide(room, settings):
    # A backend that refuses the user (its user_can_authenticate) is obeyed,
    # and one with a get_user of its own is asked through Django's get_user.
    for backend in ("ClosedBackend", "RefusingBackend"):
        path = f"rooms.tests.test_admission.{backend}"
        settings.AUTHENTICATION_BACKENDS = [path, MODEL_BACKEND]
        session = signed_in_session(room.doctor, backend=path)
        assert admit(session, room) is Refusal.NOT_LOGGED_IN, backend
    assert not Presence.objects.exists()


def test_an_inactive_participant_is_signed_out(room):
    session = signed_in_session(room.patient)
    type(room.patient).objects.filter(pk=room.patient_id).update(is_active=False)
    assert admit(session, room) is Refusal.NOT_LOGGED_IN


@pytest.mark.parametrize(
    "data",
    [
        {},
        {auth.SESSION_KEY: "abc", auth.BACKEND_SESSION_KEY: MODEL_BACKEND},
        {auth.SESSION_KEY: "1"},
    ],
    ids=["empty", "not an id", "no backend"],
)
def test_a_session_without_a_usable_login_is_refused_without_reading_the_room(room, data):
    session = signed_in_session(room.doctor)
    session.clear()
    session.update(data)
    with CaptureQueriesContext(connection) as queries:
        assert admit(session, room) is Refusal.NOT_LOGGED_IN
    assert not any("rooms_room" in q["sql"] for q in queries.captured_queries)


def test_someone_signed_in_but_not_in_the_room_is_forbidden_and_a_stranger_is_not(
    room, other_doctor
):
    assert admit(signed_in_session(other_doctor), room) is Refusal.FORBIDDEN
    stale = signed_in_session(other_doctor)
    other_doctor.set_password("uma-Senha-nova-2026")
    other_doctor.save()
    assert admit(stale, room) is Refusal.NOT_LOGGED_IN


def test_an_unknown_room_says_so_only_to_someone_signed_in(room, other_doctor):
    missing = type(room)(code="nosuchroom12")
    assert admit(signed_in_session(other_doctor), missing) is Refusal.NO_ROOM
    stale = signed_in_session(other_doctor)
    other_doctor.is_active = False
    other_doctor.save()
    assert admit(stale, missing) is Refusal.NOT_LOGGED_IN


def test_the_copies_carry_what_the_call_shows_without_another_query(room):
    # The doctor is present, with the camera off; the patient joins.
    assert isinstance(admit(signed_in_session(room.doctor), room, "c.doctor"), admission.Join)
    services.presence_set_media(channel_name="c.doctor", audio=True, video=False)

    join = admit(signed_in_session(room.patient), room, "c.patient")

    with CaptureQueriesContext(connection) as queries:
        me = consumers.participant(join.user)
        (peer,) = join.peers
        them = consumers.participant(peer.user, audio=peer.audio, video=peer.video)
        ice.ice_servers_for(join.user)
        names = (join.room.doctor.display_name, join.room.patient.display_name)
    assert queries.captured_queries == []
    assert me["name"] == "Carlos Pereira" and me["role"] == "patient"
    assert them["name"] == "Dra. Ana Souza" and them["id"] == room.doctor_id
    assert names == ("Dra. Ana Souza", "Carlos Pereira")
    # Booleans, as the protocol says: the browser reads `false`, not 0.
    assert json.dumps([them["audio"], them["video"]]) == "[true, false]"
    assert (join.room.code, join.room.status) == (room.code, "open")


def test_a_doctor_without_a_profile_is_named_without_a_title_and_without_a_query(db):
    doctor = DoctorFactory(first_name="Davi", last_name="Rocha", profile=None)
    patient = PatientFactory(doctor=doctor)
    ConsentFactory(patient=patient)
    room = RoomFactory(doctor=doctor, patient=patient)

    join = admit(signed_in_session(doctor), room)

    with CaptureQueriesContext(connection) as queries:
        assert join.user.display_name == "Davi Rocha"
    assert queries.captured_queries == []


def test_a_photo_reaches_the_participant(room):
    type(room.doctor).objects.filter(pk=room.doctor_id).update(photo="photos/ana.jpg")
    join = admit(signed_in_session(room.doctor), room)
    assert consumers.participant(join.user)["photo_url"] == f"/people/{room.doctor_id}/photo/"


def test_a_join_points_at_its_servers_heartbeat(room):
    join = admit(signed_in_session(room.doctor), room)
    presence = Presence.objects.get(pk=join.presence_id)
    assert presence.server == ServerInstance.objects.get(pk="s1")
    assert (presence.audio, presence.video) == (True, True)
