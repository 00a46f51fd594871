"""Rooms services against the database: codes, opening, finalizing, presence, consent."""

import datetime as dt
import hashlib
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone, translation

from accounts.tests.factories import AdminFactory, PatientFactory
from rooms import admission, consent, services
from rooms.models import Presence, Room, RoomStatus, ServerInstance, TelemedicineConsent
from rooms.signals import consultation_finished
from rooms.tests.factories import RoomFactory, signed_in_session

AMBIGUOUS = set("0o1li")
T0 = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC)


class Clock:
    """Stands in for timezone.now(), so durations are exact."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock(T0)
    monkeypatch.setattr(timezone, "now", fake)
    return fake


@pytest.fixture
def finished():
    """The rooms consultation_finished was sent for, in order."""
    received = []
    lock = threading.Lock()

    def receiver(sender, room, **kwargs):
        with lock:
            received.append((room.pk, room.status))

    consultation_finished.connect(receiver, weak=False)
    yield received
    consultation_finished.disconnect(receiver)


def beat(server_id: str, at: dt.datetime) -> ServerInstance:
    return ServerInstance.objects.create(id=server_id, started_at=at, last_beat_at=at)


def set_idle_since(room: Room, when: dt.datetime) -> None:
    # last_activity_at is auto_now_add: age it with an UPDATE.
    Room.objects.filter(pk=room.pk).update(last_activity_at=when)


# --- Room codes -------------------------------------------------------------------


def test_room_codes_are_long_unambiguous_and_all_different():
    codes = [services.room_code() for _ in range(500)]

    assert len(set(codes)) == len(codes)
    for code in codes:
        assert len(code) >= 10
        assert code.isascii() and code.isalnum() and code == code.lower()
        assert not AMBIGUOUS & set(code), code
    # Every letter of the alphabet shows up: codes are drawn from all of it.
    assert set("".join(codes)) == set(services.CODE_ALPHABET)
    assert not AMBIGUOUS & set(services.CODE_ALPHABET)


def test_room_codes_are_drawn_with_the_secrets_module(monkeypatch):
    calls = []

    def last_choice(alphabet):
        calls.append(alphabet)
        return alphabet[-1]

    monkeypatch.setattr(services.secrets, "choice", last_choice)

    code = services.room_code()

    assert len(calls) == len(code) >= 10
    assert code == services.CODE_ALPHABET[-1] * len(code)


# --- room_create -----------------------------------------------------------------


def test_room_create_opens_a_room_for_the_doctors_patient(doctor, patient):
    room = services.room_create(doctor=doctor, patient=patient)

    room.refresh_from_db()
    assert (room.doctor, room.patient, room.status) == (doctor, patient, RoomStatus.OPEN)
    assert room.ended_at is None
    assert room.call_started_at is None
    assert room.both_present_seconds == 0


def test_room_create_draws_another_code_when_the_first_is_taken(monkeypatch, doctor, patient):
    taken = RoomFactory(doctor=doctor, code="takentakenab")  # another patient's room
    drawn = iter(["takentakenab", "freshfreshcd"])
    monkeypatch.setattr(services, "room_code", lambda: next(drawn))

    room = services.room_create(doctor=doctor, patient=patient)

    assert room.code == "freshfreshcd"
    assert Room.objects.filter(doctor=doctor).count() == 2
    taken.refresh_from_db()
    assert taken.code == "takentakenab"


def test_room_create_gives_up_when_every_code_is_taken(monkeypatch, doctor, patient):
    RoomFactory(doctor=doctor, code="takentakenab")  # another patient's room
    monkeypatch.setattr(services, "room_code", lambda: "takentakenab")

    with pytest.raises(RuntimeError):
        services.room_create(doctor=doctor, patient=patient)
    assert Room.objects.count() == 1


def test_room_create_refuses_another_doctors_patient(doctor, other_patient):
    with pytest.raises(ValidationError) as error:
        services.room_create(doctor=doctor, patient=other_patient)

    assert error.value.code == "not-your-patient"
    assert not Room.objects.exists()


def test_room_create_refuses_an_inactive_patient(doctor):
    inactive = PatientFactory(doctor=doctor, is_active=False)

    with pytest.raises(ValidationError) as error:
        services.room_create(doctor=doctor, patient=inactive)

    assert error.value.code == "not-your-patient"
    assert not Room.objects.exists()


@pytest.mark.parametrize("opener", ["admin", "patient", "other_patient", "inactive_doctor"])
def test_room_create_refuses_anyone_but_an_active_doctor(opener, doctor, patient, other_patient):
    people = {
        "admin": AdminFactory(),
        "patient": patient,
        "other_patient": other_patient,
        "inactive_doctor": doctor,
    }
    if opener == "inactive_doctor":
        doctor.is_active = False
        doctor.save(update_fields=["is_active"])

    with pytest.raises(ValidationError) as error:
        services.room_create(doctor=people[opener], patient=patient)

    assert error.value.code == "not-your-patient"
    assert not Room.objects.exists()


# --- room_finalize ---------------------------------------------------------------


def test_room_finalize_acts_once(room, doctor, finished, clock):
    ended_at = clock.advance(600)

    first = services.room_finalize(room=room, by=doctor)
    clock.advance(60)
    second = services.room_finalize(room=room, by=doctor)

    assert (first, second) == (True, False)
    assert finished == [(room.pk, RoomStatus.ENDED)]
    room.refresh_from_db()
    assert room.status == RoomStatus.ENDED
    assert room.ended_at == ended_at
    assert room.ended_by == doctor


def test_room_finalize_without_a_person_records_no_one(room, finished):
    assert services.room_finalize(room=room, by=None) is True

    room.refresh_from_db()
    assert room.status == RoomStatus.ENDED
    assert room.ended_by is None
    assert room.ended_at is not None
    assert finished == [(room.pk, RoomStatus.ENDED)]


def test_room_finalize_closes_the_open_overlap_and_clears_presence(room, clock):
    server = beat("s1", clock.now)
    for person in (room.doctor, room.patient):
        Presence.objects.create(
            room=room, user=person, channel_name=f"c.{person.pk}", server=server, connected_at=T0
        )
    Room.objects.filter(pk=room.pk).update(
        call_started_at=T0, both_present_since=T0, both_present_seconds=30
    )
    clock.advance(90)

    assert services.room_finalize(room=room, by=room.doctor) is True

    room.refresh_from_db()
    assert room.both_present_seconds == 120
    assert room.both_present_since is None
    assert room.call_started_at == T0
    assert room.was_billable
    assert not Presence.objects.filter(room=room).exists()


def test_room_finalize_tells_the_room_only_after_commit(
    room, doctor, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        services, "_send_to_channels", lambda channels, message: sent.append((channels, message))
    )
    services.server_beat(server_id="s1")
    join(room, room.patient, "c.patient")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.room_finalize(room=room, by=doctor)
        assert sent == []

    for callback in callbacks:
        callback()
    assert [(channels, message["type"]) for channels, message in sent] == [
        (["c.patient"], "room.ended")
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_finalizations_end_the_room_once(finished):
    room = RoomFactory()
    workers = 10
    barrier = threading.Barrier(workers)
    results, errors = [], []

    def finalize():
        try:
            barrier.wait(timeout=10)
            results.append(services.room_finalize(room=room, by=room.doctor))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=finalize) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(results) == [False] * (workers - 1) + [True]
    assert finished == [(room.pk, RoomStatus.ENDED)]
    room.refresh_from_db()
    assert room.status == RoomStatus.ENDED


# --- rooms_finalize_stale ----------------------------------------------------------


def test_stale_rooms_nobody_is_in_are_finalized(doctor, patient, finished, clock):
    # One open room per pair: the other open rooms are with other patients of hers.
    idle = RoomFactory(doctor=doctor, patient=patient)
    recent = RoomFactory(doctor=doctor)
    occupied = RoomFactory(doctor=doctor)
    already_ended = RoomFactory(
        doctor=doctor, patient=patient, status=RoomStatus.ENDED, ended_at=T0 - dt.timedelta(days=1)
    )
    for stale in (idle, occupied, already_ended):
        set_idle_since(stale, T0 - dt.timedelta(hours=3))
    set_idle_since(recent, T0 - dt.timedelta(minutes=30))
    Presence.objects.create(
        room=occupied,
        user=occupied.patient,
        channel_name="c.1",
        server=beat("s1", T0),
        connected_at=T0 - dt.timedelta(hours=3),
    )

    count = services.rooms_finalize_stale(idle_for=dt.timedelta(hours=2))

    assert count == 1
    assert finished == [(idle.pk, RoomStatus.ENDED)]
    status = dict(Room.objects.values_list("pk", "status"))
    assert status == {
        idle.pk: RoomStatus.ENDED,
        recent.pk: RoomStatus.OPEN,
        occupied.pk: RoomStatus.OPEN,
        already_ended.pk: RoomStatus.ENDED,
    }
    idle.refresh_from_db()
    assert idle.ended_by is None
    # It ended when it was last active, not when the sweep found it: that
    # decides the consultation's month (and its monthly closing).
    assert idle.ended_at == T0 - dt.timedelta(hours=3)
    already_ended.refresh_from_db()
    assert already_ended.ended_at == T0 - dt.timedelta(days=1)


def test_finalizing_stale_rooms_twice_finalizes_nothing_more(room, clock):
    set_idle_since(room, T0 - dt.timedelta(hours=3))

    assert services.rooms_finalize_stale(idle_for=dt.timedelta(hours=2)) == 1
    assert services.rooms_finalize_stale(idle_for=dt.timedelta(hours=2)) == 0


# --- Presence -----------------------------------------------------------------------


def join(room, user, channel, server="s1", session_key=""):
    """As the signaling socket admits `user`: with a signed-in session of theirs."""
    session = SessionStore(session_key) if session_key else signed_in_session(user)
    return admission.admit(session, room.code, channel, server_id=server, beat=True)


def leave(room, user, channel):
    return services.presence_leave(room_id=room.pk, user_id=user.pk, channel_name=channel)


def test_the_call_starts_when_both_are_present_and_never_moves_later(room, clock):
    doctor, patient = room.doctor, room.patient

    alone = join(room, doctor, "c.doctor")
    assert (alone.call_started, alone.peers) == (False, [])
    room.refresh_from_db()
    assert room.call_started_at is None

    met_at = clock.advance(10)
    meeting = join(room, patient, "c.patient")
    assert meeting.call_started is True
    assert [p.user for p in meeting.peers] == [doctor]
    room.refresh_from_db()
    assert room.call_started_at == met_at

    clock.advance(60)
    assert leave(room, patient, "c.patient") == ["c.doctor"]
    clock.advance(30)
    again = join(room, patient, "c.patient.2")

    assert again.call_started is False
    room.refresh_from_db()
    assert room.call_started_at == met_at


def test_time_together_adds_up_across_leaving_and_rejoining(room, clock):
    doctor, patient = room.doctor, room.patient
    join(room, doctor, "c.doctor")
    clock.advance(5)
    join(room, patient, "c.patient")
    clock.advance(60)
    leave(room, patient, "c.patient")  # 60 s together
    clock.advance(100)  # the doctor alone: not counted
    join(room, patient, "c.patient.2")
    clock.advance(45)
    leave(room, doctor, "c.doctor")  # 45 s more
    clock.advance(20)  # the patient alone

    room.refresh_from_db()
    assert room.both_present_seconds == 105
    assert room.both_present_since is None
    with translation.override("en"):
        assert room.duration_display == "2 min"
    assert room.last_activity_at == T0 + dt.timedelta(seconds=210)


def test_joining_again_replaces_the_old_connection(room, clock):
    patient = room.patient
    join(room, room.doctor, "c.doctor")
    join(room, patient, "c.tab1")
    clock.advance(30)

    second = join(room, patient, "c.tab2")

    assert second.replaced_channel == "c.tab1"
    # Each connection is a new row with a higher id: the id orders a user's connections.
    assert second.replaced_id < second.presence_id
    assert Presence.objects.get(channel_name="c.tab2").pk == second.presence_id
    assert second.call_started is False
    channels = set(Presence.objects.filter(room=room).values_list("channel_name", flat=True))
    assert channels == {"c.doctor", "c.tab2"}
    # The replaced tab's goodbye neither removes the new connection nor stops the clock.
    clock.advance(30)
    assert leave(room, patient, "c.tab1") is None  # replaced: nobody to tell
    room.refresh_from_db()
    assert room.both_present_since == T0
    clock.advance(30)
    assert leave(room, patient, "c.tab2") == ["c.doctor"]
    room.refresh_from_db()
    assert room.both_present_seconds == 90


def test_a_first_connection_replaces_nothing(room):
    assert join(room, room.patient, "c.patient").replaced_channel == ""


def test_nobody_joins_an_ended_room(room):
    services.room_finalize(room=room, by=room.doctor)

    result = join(room, room.patient, "c.patient")

    assert result is admission.Refusal.ENDED
    assert not Presence.objects.filter(room=room).exists()


def test_presences_held_by_a_dead_server_are_swept(room, clock):
    beat("alive", T0 - dt.timedelta(seconds=5))
    beat("dead", T0 - dt.timedelta(minutes=5))
    Presence.objects.create(
        room=room, user=room.doctor, channel_name="c.doctor", server_id="alive", connected_at=T0
    )
    ghost = Presence.objects.create(
        room=room, user=room.patient, channel_name="c.patient", server_id="dead", connected_at=T0
    )
    Room.objects.filter(pk=room.pk).update(call_started_at=T0, both_present_since=T0)
    clock.advance(40)

    swept = services.presence_sweep_dead_servers(timeout=dt.timedelta(minutes=1))

    doctor_channel = Presence.objects.get(user=room.doctor).channel_name
    assert swept == [(room.patient.pk, ghost.pk, [doctor_channel])]
    assert list(Presence.objects.values_list("user", flat=True)) == [room.doctor.pk]
    assert set(ServerInstance.objects.values_list("id", flat=True)) == {"alive"}
    room.refresh_from_db()
    assert room.both_present_seconds == 40
    assert room.both_present_since is None


def test_a_restart_with_one_process_drops_every_other_processes_presence_at_once(room, clock):
    beat("killed", T0)  # beat a moment ago: not stale, but unreachable
    beat("this", T0)
    other_room = RoomFactory()
    Presence.objects.create(
        room=room, user=room.doctor, channel_name="c.d", server_id="killed", connected_at=T0
    )
    Presence.objects.create(
        room=room, user=room.patient, channel_name="c.p", server_id="killed", connected_at=T0
    )
    mine = Presence.objects.create(
        room=other_room,
        user=other_room.doctor,
        channel_name="c.o",
        server_id="this",
        connected_at=T0,
    )
    Room.objects.filter(pk=room.pk).update(call_started_at=T0, both_present_since=T0)
    clock.advance(30)

    assert services.presence_sweep_other_servers(server_id="this") == 2

    assert list(Presence.objects.all()) == [mine]
    assert list(ServerInstance.objects.values_list("id", flat=True)) == ["this"]
    room.refresh_from_db()
    # The call's time together ends when its sockets were found gone.
    assert (room.both_present_seconds, room.both_present_since) == (30, None)
    assert room.last_activity_at == T0 + dt.timedelta(seconds=30)
    assert services.presence_sweep_other_servers(server_id="this") == 0


def test_server_beat_creates_then_refreshes_the_heartbeat(db, clock):
    services.server_beat(server_id="s1")
    later = clock.advance(10)
    services.server_beat(server_id="s1")

    server = ServerInstance.objects.get()
    assert (server.started_at, server.last_beat_at) == (T0, later)


# --- Consent ---------------------------------------------------------------------


def _term_file() -> Path:
    return (
        Path(settings.BASE_DIR) / "templates" / "rooms" / "consent" / f"{consent.TERM_VERSION}.html"
    )


def test_consent_accept_stores_the_term_hash_time_ip_and_browser(patient, clock):
    expected_hash = hashlib.sha256(_term_file().read_bytes()).hexdigest()

    accepted = services.consent_accept(
        patient=patient, ip_address="203.0.113.9", user_agent="Mozilla/5.0 (Android)"
    )

    accepted.refresh_from_db()
    assert accepted.patient == patient
    assert accepted.version == consent.TERM_VERSION
    assert accepted.text_hash == expected_hash == consent.term_hash()
    assert len(accepted.text_hash) == 64
    assert accepted.accepted_at == T0
    assert accepted.ip_address == "203.0.113.9"
    assert accepted.user_agent == "Mozilla/5.0 (Android)"
    assert services.consent_current(patient=patient) == accepted


def test_consent_accept_is_idempotent_per_version(patient, clock):
    first = services.consent_accept(patient=patient, ip_address="203.0.113.9", user_agent="A")
    clock.advance(3600)

    again = services.consent_accept(patient=patient, ip_address="198.51.100.7", user_agent="B")

    assert again == first
    row = TelemedicineConsent.objects.get()
    assert (row.accepted_at, row.ip_address, row.user_agent) == (T0, "203.0.113.9", "A")


def test_a_new_term_version_is_accepted_again(patient, monkeypatch):
    services.consent_accept(patient=patient, ip_address="203.0.113.9", user_agent="A")
    monkeypatch.setattr(consent, "TERM_VERSION", "2099-01")

    assert services.consent_current(patient=patient) is None
    newer = services.consent_accept(patient=patient, ip_address="203.0.113.9", user_agent="A")

    assert newer.version == "2099-01"
    assert TelemedicineConsent.objects.filter(patient=patient).count() == 2


def test_consent_accept_keeps_no_blank_ip_and_caps_the_browser(patient):
    accepted = services.consent_accept(patient=patient, ip_address="", user_agent="x" * 800)

    accepted.refresh_from_db()
    assert accepted.ip_address is None
    assert accepted.user_agent == "x" * 500


def test_consent_belongs_to_one_patient(patient, other_patient):
    services.consent_accept(patient=patient, ip_address="203.0.113.9", user_agent="A")

    assert services.consent_current(patient=other_patient) is None


def test_consent_given_is_the_current_term_of_that_patient(patient, other_patient, monkeypatch):
    assert services.consent_given(patient=patient) is False
    services.consent_accept(patient=patient, ip_address="203.0.113.9", user_agent="A")

    assert services.consent_given(patient=patient) is True
    assert services.consent_given(patient=other_patient) is False
    monkeypatch.setattr(consent, "TERM_VERSION", "2099-01")
    assert services.consent_given(patient=patient) is False


@pytest.mark.django_db
def test_a_double_submitted_consent_returns_the_stored_one(consented_patient, monkeypatch):
    # The second request of a double click passes the "already accepted?" check
    # before the first one has stored its row; the unique constraint stops it.
    stored = consented_patient.telemedicine_consents.get()
    real = services.consent_current
    calls = []

    def racing(*, patient):
        calls.append(1)
        return None if len(calls) == 1 else real(patient=patient)

    monkeypatch.setattr(services, "consent_current", racing)
    result = services.consent_accept(
        patient=consented_patient, ip_address="10.0.0.1", user_agent="x"
    )
    assert result == stored
    assert consented_patient.telemedicine_consents.count() == 1


# --- One open room per doctor and patient -------------------------------------------


def test_opening_a_room_again_returns_the_one_already_open(doctor, patient):
    first = services.room_create(doctor=doctor, patient=patient)

    again = services.room_create(doctor=doctor, patient=patient)

    assert again.pk == first.pk and again.code == first.code
    assert Room.objects.count() == 1


def test_once_the_room_is_finished_a_new_one_is_opened(doctor, patient):
    first = services.room_create(doctor=doctor, patient=patient)
    services.room_finalize(room=first, by=doctor)

    second = services.room_create(doctor=doctor, patient=patient)

    assert second.pk != first.pk and second.is_open
    assert Room.objects.filter(doctor=doctor, patient=patient).count() == 2


def test_another_patient_gets_their_own_room(doctor, patient):
    other = PatientFactory(doctor=doctor)

    mine = services.room_create(doctor=doctor, patient=patient)
    theirs = services.room_create(doctor=doctor, patient=other)

    assert mine.pk != theirs.pk


def test_the_database_refuses_a_second_open_room_for_a_pair(doctor, patient):
    from django.db import IntegrityError

    RoomFactory(doctor=doctor, patient=patient)

    with pytest.raises(IntegrityError), transaction.atomic():
        RoomFactory(doctor=doctor, patient=patient)
    RoomFactory(doctor=doctor, patient=patient, status=RoomStatus.ENDED, ended_at=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_concurrent_openings_for_a_pair_open_one_room(doctor, patient):
    # On PostgreSQL every request can look before any commits: the constraint
    # refuses all inserts but one, and the losers return the winner's room.
    workers = 6
    barrier = threading.Barrier(workers)
    codes, errors = [], []

    def open_room():
        try:
            barrier.wait(timeout=10)
            codes.append(services.room_create(doctor=doctor, patient=patient).code)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_room) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(codes) == workers and len(set(codes)) == 1
    assert Room.objects.filter(doctor=doctor, patient=patient).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_last_used_open_room_of_a_pair(doctor, patient):
    from django.db.migrations.executor import MigrationExecutor

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([("rooms", target)])
        return executor.loader.project_state([("rooms", target)]).apps

    try:
        old_rooms = migrate("0001_initial").get_model("rooms", "Room")
        now = timezone.now()
        older, _used_last = (
            old_rooms.objects.create(code=code, doctor_id=doctor.pk, patient_id=patient.pk)
            for code in ("olderolderab", "lastlastlast")
        )
        old_rooms.objects.filter(pk=older.pk).update(last_activity_at=now - dt.timedelta(hours=1))

        migrate("0003_one_open_room_per_pair")

        status = dict(Room.objects.values_list("code", "status"))
        assert status == {"olderolderab": RoomStatus.ENDED, "lastlastlast": RoomStatus.OPEN}
    finally:
        # Going back to rooms 0001 also unapplied the apps that depend on later
        # rooms migrations (billing): put every app back for the tests that follow.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert Room.objects.get(code="olderolderab").ended_at is not None


# --- Access revoked ---------------------------------------------------------------------


def test_logging_out_succeeds_with_the_channel_layer_unreachable(room, settings, caplog):
    from django.test import Client

    from tests.conftest import free_port

    # A Redis layer pointing at a loopback port nobody listens on: Redis is down.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/1"]},
        }
    }
    client = Client()
    client.force_login(room.doctor)
    services.server_beat(server_id="s1")
    join(room, room.doctor, "specific.abc!def", session_key=client.session.session_key)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    # The session is over: a page that needs a login sends to the login page.
    assert "/accounts/login/" in client.get("/").url
    assert "Could not tell the sockets" in caplog.text
