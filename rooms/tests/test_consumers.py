"""The signaling consumer against signaling-protocol.md, row by row.

Each test drives the real ASGI application (origin check, session auth,
routing) with Channels' WebsocketCommunicator on a transactional database.
"""

import asyncio
import json
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from medconnect.asgi import application
from rooms import consumers, services
from rooms.models import CallSample, Presence, Room, ServerInstance
from rooms.signals import consultation_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

ORIGIN = "http://testserver"


def _session_client(user):
    client = Client()
    client.force_login(user)
    return client


async def open_socket(user=None, path=None, *, room=None, origin=ORIGIN, client=None):
    headers = [(b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if user is not None or client is not None:
        client = client or await sync_to_async(_session_client)(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    communicator = WebsocketCommunicator(
        application, path or f"/ws/rooms/{room.code}/", headers=headers
    )
    communicator.client = client
    communicator.connected, communicator.close_code = await communicator.connect()
    return communicator


async def frame(communicator, timeout=2):
    return json.loads(await communicator.receive_from(timeout=timeout))


async def closed_with(communicator, timeout=2):
    """The close code the server sent (after any frames before it)."""
    while True:
        message = await communicator.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            return message.get("code")


async def joined(user, room):
    socket = await open_socket(user, room=room)
    welcome = await frame(socket)
    assert welcome["type"] == "welcome"
    return socket, welcome


async def both(room):
    doctor, _ = await joined(room.doctor, room)
    patient, welcome = await joined(room.patient, room)
    assert (await frame(doctor))["type"] == "peer-joined"
    return doctor, patient, welcome


# --- Admission -------------------------------------------------------------------


async def test_anonymous_is_closed_with_4401(room):
    socket = await open_socket(room=room)
    assert await closed_with(socket) == 4401


async def test_unknown_room_is_closed_with_4404(doctor):
    socket = await open_socket(doctor, "/ws/rooms/nosuchroom1/")
    assert await closed_with(socket) == 4404


async def test_another_doctor_is_closed_with_4403(room, other_doctor):
    socket = await open_socket(other_doctor, room=room)
    assert await closed_with(socket) == 4403


async def test_an_admin_is_never_admitted(room, admin_user):
    socket = await open_socket(admin_user, room=room)
    assert await closed_with(socket) == 4403


async def test_a_patient_without_consent_cannot_start_the_call(room):
    await sync_to_async(room.patient.telemedicine_consents.all().delete)()
    socket = await open_socket(room.patient, room=room)
    assert await closed_with(socket) == 4403


async def test_an_ended_room_is_closed_with_4410(room):
    await sync_to_async(services.room_finalize)(room=room, by=room.doctor)
    socket = await open_socket(room.doctor, room=room)
    assert await closed_with(socket) == 4410


async def test_a_deactivated_participant_with_a_live_session_is_closed_with_4401(room):
    # django.contrib.auth.get_user's rule, applied at admission: inactive is signed out.
    client = await sync_to_async(_session_client)(room.patient)
    await sync_to_async(type(room.patient).objects.filter(pk=room.patient_id).update)(
        is_active=False
    )
    socket = await open_socket(client=client, room=room)
    assert await closed_with(socket) == 4401


async def test_a_session_signed_before_the_secret_was_rotated_is_still_admitted(room, settings):
    # A session from before a rotation (SECRET_KEY_FALLBACKS) still verifies, as on
    # the pages: admission applies django.contrib.auth.get_user's rules, not its own.
    client = await sync_to_async(_session_client)(room.doctor)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-rotated-secret-" + "x" * 40
    socket = await open_socket(client=client, room=room)
    assert (await frame(socket))["type"] == "welcome"
    await socket.disconnect()


def _shift_clock(client, *, login, active):
    """Move the session's clock back (seconds ago), as accounts.middleware keeps it."""
    import time

    from accounts.middleware import ACTIVE_AT, LOGIN_AT

    session = client.session
    now = int(time.time())
    session[LOGIN_AT] = now - login
    session[ACTIVE_AT] = now - active
    session.save()


async def test_an_expired_session_is_closed_with_4401_like_no_session(room):
    # The HTTP pages end a session after its idle or absolute timeout; a socket
    # opened with the same cookie must not outlive that rule.
    client = await sync_to_async(_session_client)(room.doctor)
    # Idle for 31 minutes:
    await sync_to_async(_shift_clock)(client, login=3600, active=31 * 60)
    socket = await open_socket(client=client, room=room)
    assert await closed_with(socket) == 4401
    # Active, but signed in 13 hours ago:
    await sync_to_async(_shift_clock)(client, login=13 * 3600, active=0)
    socket = await open_socket(client=client, room=room)
    assert await closed_with(socket) == 4401
    assert not await sync_to_async(Presence.objects.filter(room=room).exists)()

    await sync_to_async(_shift_clock)(client, login=3600, active=29 * 60)
    socket = await open_socket(client=client, room=room)
    assert (await frame(socket))["type"] == "welcome"
    await socket.disconnect()


def count_admission_work(monkeypatch):
    """Trips to the database thread and SQL statements, from every thread.

    Not SQLite's BEGIN: PostgreSQL's driver opens transactions without a statement.
    """
    from channels.db import DatabaseSyncToAsync
    from django.db.backends.utils import CursorWrapper

    seen = {"trips": 0, "statements": 0}
    trip, execute = DatabaseSyncToAsync.thread_handler, CursorWrapper._execute_with_wrappers

    def counted_trip(self, *args, **kwargs):
        seen["trips"] += 1
        return trip(self, *args, **kwargs)

    def counted_execute(self, sql, *args, **kwargs):
        seen["statements"] += not sql.startswith("BEGIN")
        return execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(DatabaseSyncToAsync, "thread_handler", counted_trip)
    monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", counted_execute)
    return seen


async def test_a_patient_is_admitted_in_one_trip_to_the_database_thread(room, monkeypatch):
    # Every trip queues behind all other admissions on the one database thread,
    # and after a restart every call reconnects at once. One trip, five
    # statements: the session; the room, locked, with both participants (the
    # session's user among them) and the patient's consent; the presences; the
    # new presence; the room's times. The heartbeat row is fresh, so the join
    # does not write it again.
    doctor, _ = await joined(room.doctor, room)
    client = await sync_to_async(_session_client)(room.patient)
    seen = count_admission_work(monkeypatch)

    patient = await open_socket(room=room, client=client)
    welcome = await frame(patient)

    assert welcome["type"] == "welcome" and welcome["peers"][0]["id"] == room.doctor_id
    assert seen == {"trips": 1, "statements": 5}
    assert (await frame(doctor))["type"] == "peer-joined"
    await doctor.disconnect()
    await patient.disconnect()


async def test_a_join_writes_the_heartbeat_again_once_it_is_half_way_to_stale(room):
    # Joins skip the heartbeat row while it is fresh. A process whose beats
    # stopped long enough (a paused event loop) may have been swept by another
    # one: its next join writes the row again, so the presence has a server.
    doctor, _ = await joined(room.doctor, room)
    await doctor.disconnect(code=1000)
    await sync_to_async(ServerInstance.objects.filter(pk=consumers.SERVER_ID).delete)()
    consumers.heartbeat.beat_at -= consumers.Heartbeat.STALE_AFTER
    patient, _ = await joined(room.patient, room)
    presence = await sync_to_async(Presence.objects.get)(user=room.patient)
    assert presence.server_id == consumers.SERVER_ID
    assert await sync_to_async(ServerInstance.objects.filter(pk=consumers.SERVER_ID).exists)()
    await patient.disconnect()


async def test_a_foreign_origin_is_refused_before_the_socket_exists(room):
    for origin in ("http://evil.example", "https://testserver", "null", None):
        socket = await open_socket(room.doctor, room=room, origin=origin)
        assert socket.connected is False, origin


async def test_an_unknown_websocket_path_is_refused_cleanly(doctor):
    socket = await open_socket(doctor, "/ws/nothing/here/")
    assert socket.connected is False


# --- Welcome, presence, relay --------------------------------------------------------


async def test_welcome_describes_self_peers_politeness_and_ice_servers(room):
    doctor, welcome = await joined(room.doctor, room)
    assert welcome["self"]["id"] == room.doctor.pk
    assert welcome["self"]["role"] == "doctor"
    assert welcome["self"]["name"] == room.doctor.display_name
    assert welcome["peers"] == []
    assert welcome["polite"] is False
    assert welcome["ice_servers"][0]["urls"]
    assert welcome["room"] == {"code": room.code, "status": "open"}
    patient, welcome = await joined(room.patient, room)
    assert welcome["polite"] is True
    assert [p["id"] for p in welcome["peers"]] == [room.doctor.pk]
    peer_joined = await frame(doctor)
    assert peer_joined == {"type": "peer-joined", "peer": welcome["self"]}
    await doctor.disconnect()
    await patient.disconnect()


async def test_signal_reaches_the_other_participant_only_and_is_never_echoed(room):
    doctor, patient, _ = await both(room)
    data = {"description": {"type": "offer", "sdp": "v=0..."}}
    await doctor.send_to(text_data=json.dumps({"type": "signal", "data": data}))
    assert await frame(patient) == {"type": "signal", "from": room.doctor.pk, "data": data}
    assert await doctor.receive_nothing(timeout=0.3)
    await doctor.disconnect()
    await patient.disconnect()


async def test_a_signal_is_relayed_while_the_database_thread_is_busy(room):
    doctor, patient, _ = await both(room)
    # Other sockets' admissions hold the one thread database calls run on; a
    # relayed frame needs no database, so it must not queue behind them.
    release = threading.Event()
    busy = asyncio.ensure_future(sync_to_async(release.wait)())
    try:
        await doctor.send_to(text_data=json.dumps({"type": "signal", "data": {"x": 1}}))
        relayed = await frame(patient, timeout=1)
    finally:
        release.set()
        await busy
    assert relayed == {"type": "signal", "from": room.doctor.pk, "data": {"x": 1}}
    await doctor.disconnect()
    await patient.disconnect()


async def test_frames_never_reach_another_room(room, other_doctor, other_patient):
    from rooms.tests.factories import ConsentFactory, RoomFactory

    await sync_to_async(ConsentFactory)(patient=other_patient)
    other_room = await sync_to_async(RoomFactory)(doctor=other_doctor, patient=other_patient)
    doctor, patient, _ = await both(room)
    other, _ = await joined(other_doctor, other_room)
    await doctor.send_to(text_data=json.dumps({"type": "signal", "data": {"x": 1}}))
    await frame(patient)
    assert await other.receive_nothing(timeout=0.3)
    for socket in (doctor, patient, other):
        await socket.disconnect()


async def test_a_signal_with_nobody_there_is_dropped_without_error(room):
    doctor, _ = await joined(room.doctor, room)
    await doctor.send_to(text_data=json.dumps({"type": "signal", "data": {"candidate": {}}}))
    assert await doctor.receive_nothing(timeout=0.3)
    await doctor.disconnect()


async def test_media_is_stored_and_shown_to_the_other_side(room):
    doctor, patient, _ = await both(room)
    await patient.send_to(text_data=json.dumps({"type": "media", "audio": False, "video": True}))
    assert await frame(doctor) == {
        "type": "peer-media",
        "peer": {"id": room.patient.pk, "audio": False, "video": True},
    }
    presence = await sync_to_async(Presence.objects.get)(user=room.patient)
    assert (presence.audio, presence.video) == (False, True)
    # Whoever joins later sees the stored state in `welcome`.
    await doctor.disconnect()
    doctor, welcome = await joined(room.doctor, room)
    assert welcome["peers"][0]["audio"] is False
    await doctor.disconnect()
    await patient.disconnect()


@pytest.mark.parametrize("ping_id", ["abc", 7, 2.5])
async def test_ping_is_answered_with_pong_and_the_same_id(room, ping_id):
    doctor, _ = await joined(room.doctor, room)
    await doctor.send_to(text_data=json.dumps({"type": "ping", "id": ping_id}))
    assert await frame(doctor) == {"type": "pong", "id": ping_id}
    await doctor.disconnect()


async def test_stats_are_kept_with_the_consultation(room):
    doctor, _ = await joined(room.doctor, room)
    sample = {"type": "stats", "rtt_ms": 42.5, "loss_pct": 0, "kbps_in": 480, "kbps_out": 350}
    await doctor.send_to(text_data=json.dumps(sample))
    await doctor.send_to(text_data=json.dumps({"type": "stats"}))  # every field is optional
    await doctor.send_to(text_data=json.dumps({"type": "ping", "id": 1}))
    assert (await frame(doctor))["type"] == "pong"
    rows = await sync_to_async(list)(CallSample.objects.filter(room=room).order_by("pk"))
    assert [(r.rtt_ms, r.loss_pct, r.kbps_in, r.kbps_out) for r in rows] == [
        (42.5, 0.0, 480.0, 350.0),
        (None, None, None, None),
    ]
    await doctor.disconnect()


# --- Bad frames ----------------------------------------------------------------------

BAD_FRAMES = [
    ("not json", "bad-json"),
    ("[1, 2]", "bad-message"),
    ('"signal"', "bad-message"),
    ("{}", "bad-message"),
    ('{"type": 5}', "bad-message"),
    ('{"type": "dance"}', "unknown-type"),
    ('{"type": "signal"}', "bad-message"),
    ('{"type": "signal", "data": "offer"}', "bad-message"),
    ('{"type": "media", "audio": true}', "bad-message"),
    ('{"type": "media", "audio": "yes", "video": true}', "bad-message"),
    ('{"type": "ping"}', "bad-message"),
    ('{"type": "ping", "id": true}', "bad-message"),
    ('{"type": "ping", "id": {}}', "bad-message"),
    ('{"type": "stats", "rtt_ms": -1}', "bad-message"),
    ('{"type": "stats", "loss_pct": "high"}', "bad-message"),
    ("x" * (64 * 1024 + 1), "too-large"),
    ('{"type": "signal", "data": {"sdp": "' + "é" * 33_000 + '"}}', "too-large"),
]


@pytest.mark.parametrize(("text", "code"), BAD_FRAMES)
async def test_a_bad_frame_gets_an_error_and_the_socket_stays_open(room, text, code, caplog):
    doctor, _ = await joined(room.doctor, room)
    await doctor.send_to(text_data=text)
    error = await frame(doctor)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["detail"]
    await doctor.send_to(text_data=json.dumps({"type": "ping", "id": "still-open"}))
    assert await frame(doctor) == {"type": "pong", "id": "still-open"}
    assert "Traceback" not in caplog.text
    await doctor.disconnect()


async def test_a_binary_frame_gets_bad_json(room):
    doctor, _ = await joined(room.doctor, room)
    await doctor.send_to(bytes_data=b"\x00\x01")
    assert (await frame(doctor))["code"] == "bad-json"
    await doctor.disconnect()


async def test_a_frame_of_exactly_64_kib_is_accepted(room):
    doctor, _ = await joined(room.doctor, room)
    head = '{"type": "ping", "id": "'
    text = head + "a" * (64 * 1024 - len(head) - 2) + '"}'
    assert len(text.encode()) == 64 * 1024
    await doctor.send_to(text_data=text)
    assert (await frame(doctor))["type"] == "pong"
    await doctor.disconnect()


async def test_only_the_doctor_may_end(room):
    doctor, patient, _ = await both(room)
    await patient.send_to(text_data=json.dumps({"type": "end"}))
    assert (await frame(patient))["code"] == "forbidden"
    assert (await sync_to_async(Room.objects.get)(pk=room.pk)).status == "open"
    await doctor.disconnect()
    await patient.disconnect()


async def test_ten_refused_frames_in_a_row_close_with_4429(room):
    doctor, _ = await joined(room.doctor, room)
    for _ in range(9):
        await doctor.send_to(text_data="nope")
        assert (await frame(doctor))["code"] == "bad-json"
    await doctor.send_to(text_data="nope")
    assert await closed_with(doctor) == 4429


async def test_an_accepted_frame_resets_the_refusal_count(room):
    doctor, _ = await joined(room.doctor, room)
    for _ in range(3):
        for _ in range(9):
            await doctor.send_to(text_data="nope")
            assert (await frame(doctor))["code"] == "bad-json"
        await doctor.send_to(text_data=json.dumps({"type": "ping", "id": 1}))
        assert (await frame(doctor))["type"] == "pong"
    await doctor.disconnect()


async def test_the_rate_limit_is_a_bucket_of_200_refilled_at_50_per_second(room, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(consumers.time, "monotonic", lambda: clock[0])
    doctor, _ = await joined(room.doctor, room)
    for i in range(200):
        await doctor.send_to(text_data=json.dumps({"type": "ping", "id": i}))
    for i in range(200):
        assert await frame(doctor) == {"type": "pong", "id": i}
    await doctor.send_to(text_data=json.dumps({"type": "ping", "id": "over"}))
    assert (await frame(doctor))["code"] == "rate-limited"
    clock[0] += 0.1  # five tokens come back
    for i in range(5):
        await doctor.send_to(text_data=json.dumps({"type": "ping", "id": i}))
        assert (await frame(doctor))["type"] == "pong"
    await doctor.send_to(text_data=json.dumps({"type": "ping", "id": "over"}))
    assert (await frame(doctor))["code"] == "rate-limited"
    await doctor.disconnect()


# --- Leaving, replacing, ending ---------------------------------------------------------


async def test_a_clean_close_is_left_and_a_dropped_connection_is_lost(room):
    doctor, patient, _ = await both(room)
    await patient.disconnect(code=1000)
    assert await frame(doctor) == {
        "type": "peer-left", "peer": {"id": room.patient.pk}, "reason": "left"
    }  # fmt: skip
    patient, _ = await joined(room.patient, room)
    assert (await frame(doctor))["type"] == "peer-joined"
    await patient.disconnect(code=1006)
    assert (await frame(doctor))["reason"] == "lost"
    await doctor.disconnect()


async def test_opening_the_room_again_replaces_the_older_connection(room):
    doctor, patient, _ = await both(room)
    second = await open_socket(room.patient, room=room)
    welcome = await frame(second)
    assert welcome["type"] == "welcome"
    assert await closed_with(patient) == 4409
    assert await frame(doctor) == {
        "type": "peer-left", "peer": {"id": room.patient.pk}, "reason": "replaced"
    }  # fmt: skip
    assert (await frame(doctor))["type"] == "peer-joined"
    # The replaced socket's goodbye does not remove the new presence.
    assert await sync_to_async(Presence.objects.filter(user=room.patient).count)() == 1
    data = {"candidate": {"candidate": "x"}}
    await doctor.send_to(text_data=json.dumps({"type": "signal", "data": data}))
    assert (await frame(second))["data"] == data
    await doctor.disconnect()
    await second.disconnect()


async def test_end_from_the_doctor_ends_once_for_everyone(room):
    received = []

    def receiver(sender, room, **kwargs):
        received.append(room.pk)

    consultation_finished.connect(receiver)
    try:
        doctor, patient, _ = await both(room)
        await doctor.send_to(text_data=json.dumps({"type": "end"}))
        await doctor.send_to(text_data=json.dumps({"type": "end"}))
        for socket in (doctor, patient):
            ended = await frame(socket)
            assert ended["type"] == "ended"
            assert ended["by"] == {"id": room.doctor.pk, "name": room.doctor.display_name}
            assert ended["at"][-6] in "+-"  # carries its UTC offset
            assert await closed_with(socket) == 4410
    finally:
        consultation_finished.disconnect(receiver)
    assert received == [room.pk]
    ended_room = await sync_to_async(Room.objects.get)(pk=room.pk)
    assert ended_room.status == "ended"
    assert ended_room.ended_by_id == room.doctor.pk
    later = await open_socket(room.patient, room=room)
    assert await closed_with(later) == 4410


async def test_the_call_times_are_recorded(room):
    doctor, _ = await joined(room.doctor, room)
    assert (await sync_to_async(Room.objects.get)(pk=room.pk)).call_started_at is None
    patient, _ = await joined(room.patient, room)
    await frame(doctor)
    started = (await sync_to_async(Room.objects.get)(pk=room.pk)).call_started_at
    assert started is not None
    await asyncio.sleep(1.1)
    await patient.disconnect(code=1000)
    await frame(doctor)
    after = await sync_to_async(Room.objects.get)(pk=room.pk)
    assert after.call_started_at == started
    assert after.both_present_seconds >= 1
    await doctor.disconnect()


# --- Access revoked ----------------------------------------------------------------------


async def test_logging_out_closes_the_sockets_of_that_session(room):
    doctor, _ = await joined(room.doctor, room)
    other_session, _ = await joined(room.doctor, room)  # replaces the first
    assert await closed_with(doctor) == 4409
    response = await sync_to_async(other_session.client.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await closed_with(other_session) == 4401


async def test_deactivating_a_user_closes_all_their_sockets(room, admin_user):
    patient, _ = await joined(room.patient, room)
    admin = await sync_to_async(_session_client)(admin_user)
    response = await sync_to_async(admin.post)(f"/people/{room.patient.pk}/deactivate/")
    assert response.status_code == 302
    assert await closed_with(patient) == 4401


# --- Processes that die --------------------------------------------------------------------


async def test_a_participant_held_by_a_dead_process_is_reported_lost(room):
    from datetime import timedelta

    from django.utils import timezone

    doctor, _ = await joined(room.doctor, room)

    def ghost_patient():
        long_ago = timezone.now() - timedelta(minutes=5)
        dead = ServerInstance.objects.create(id="dead", started_at=long_ago, last_beat_at=long_ago)
        Presence.objects.create(
            room=room, user=room.patient, channel_name="gone!x", server=dead, connected_at=long_ago
        )

    await sync_to_async(ghost_patient)()
    await consumers.heartbeat.tick()
    assert await frame(doctor) == {
        "type": "peer-left", "peer": {"id": room.patient.pk}, "reason": "lost"
    }  # fmt: skip
    assert not await sync_to_async(Presence.objects.filter(user=room.patient).exists)()
    await doctor.disconnect()


def _left_by_a_killed_process(room):
    """The doctor's presence as a process killed a moment ago left it (its beat is fresh)."""
    from django.utils import timezone

    now = timezone.now()
    killed = ServerInstance.objects.create(id="killed", started_at=now, last_beat_at=now)
    Presence.objects.create(
        room=room, user=room.doctor, channel_name="gone!x", server=killed, connected_at=now
    )
    Room.objects.filter(pk=room.pk).update(call_started_at=now, both_present_since=now)


async def test_after_a_restart_the_first_to_come_back_is_welcomed_at_once(room, monkeypatch):
    # One process serves (the in-memory layer): the presences another process
    # left are unreachable. The patient is not announced to the killed
    # process's socket, which would never answer (PEER_ACK_TIMEOUT).
    await sync_to_async(_left_by_a_killed_process)(room)
    monkeypatch.setattr(consumers, "heartbeat", consumers.Heartbeat())
    monkeypatch.setattr(consumers, "PEER_ACK_TIMEOUT", 30)

    patient = await open_socket(room.patient, room=room)
    welcome = await frame(patient, timeout=5)

    assert welcome["type"] == "welcome" and welcome["peers"] == []
    assert not await sync_to_async(ServerInstance.objects.filter(pk="killed").exists)()
    doctor, _ = await joined(room.doctor, room)
    assert (await frame(patient))["type"] == "peer-joined"
    await doctor.disconnect()
    await patient.disconnect()


async def test_a_process_starts_its_heartbeat_once_however_many_connect_at_once(room, monkeypatch):
    calls = {"beat": 0, "sweep": 0}
    beat, sweep = services.server_beat, services.presence_sweep_other_servers

    def counted_beat(**kwargs):
        calls["beat"] += 1
        return beat(**kwargs)

    def counted_sweep(**kwargs):
        calls["sweep"] += 1
        return sweep(**kwargs)

    monkeypatch.setattr(services, "server_beat", counted_beat)
    monkeypatch.setattr(services, "presence_sweep_other_servers", counted_sweep)
    monkeypatch.setattr(consumers, "heartbeat", consumers.Heartbeat())
    clients = [await sync_to_async(_session_client)(u) for u in (room.doctor, room.patient) * 3]

    sockets = await asyncio.gather(*(open_socket(client=c, room=room) for c in clients))
    welcomed = [await frame(socket) for socket in sockets]

    assert [w["type"] for w in welcomed] == ["welcome"] * 6
    assert calls == {"beat": 1, "sweep": 1}
    for socket in sockets:
        await socket.disconnect()
    consumers.heartbeat.task.cancel()


async def test_with_redis_other_processes_are_left_to_their_heartbeat(monkeypatch):
    # Several processes may serve on a shared layer: a fresh beat means alive.
    swept = []
    monkeypatch.setattr(consumers, "get_channel_layer", lambda: object())
    monkeypatch.setattr(services, "server_beat", lambda **kwargs: None)
    monkeypatch.setattr(services, "presence_sweep_other_servers", swept.append)
    heartbeat = consumers.Heartbeat()

    await heartbeat.ensure_running()

    assert swept == []
    heartbeat.task.cancel()


# --- The doctor's notifications socket ---------------------------------------------------


async def test_the_notifications_socket_follows_the_same_admission_rules(room, admin_user):
    anonymous = await open_socket(path="/ws/notifications/")
    assert await closed_with(anonymous) == 4401
    for user in (room.patient, admin_user):
        socket = await open_socket(user, "/ws/notifications/")
        assert await closed_with(socket) == 4403
    foreign = await open_socket(room.doctor, "/ws/notifications/", origin="http://evil.example")
    assert foreign.connected is False


async def test_the_notifications_socket_of_an_expired_session_is_closed_with_4401(room):
    client = await sync_to_async(_session_client)(room.doctor)
    await sync_to_async(_shift_clock)(client, login=3600, active=31 * 60)
    socket = await open_socket(client=client, path="/ws/notifications/")
    assert await closed_with(socket) == 4401
    await sync_to_async(_shift_clock)(client, login=3600, active=60)
    socket = await open_socket(client=client, path="/ws/notifications/")
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_the_doctor_hears_when_a_patient_is_waiting(room):
    notices = await open_socket(room.doctor, "/ws/notifications/")
    assert notices.connected
    patient, _ = await joined(room.patient, room)
    notice = await frame(notices)
    assert notice["type"] == "patient-waiting"
    assert notice["room"] == room.code
    assert notice["patient"]["name"] == room.patient.display_name
    # With the doctor already in the room, there is nobody to call.
    await patient.disconnect(code=1000)
    doctor, _ = await joined(room.doctor, room)
    patient, _ = await joined(room.patient, room)
    assert await notices.receive_nothing(timeout=0.3)
    for socket in (notices, doctor, patient):
        await socket.disconnect()


async def test_another_doctor_does_not_hear_about_the_patient(room, other_doctor):
    notices = await open_socket(other_doctor, "/ws/notifications/")
    patient, _ = await joined(room.patient, room)
    assert await notices.receive_nothing(timeout=0.3)
    await patient.disconnect()
    await notices.disconnect()


# --- Replacement races: the newest socket is live at once ------------------------------
#
# A reconnect (Wi-Fi to 4G, a laptop waking) opens a new socket before the
# server noticed the old one died. Nothing orders the old socket's goodbye, the
# new one's arrival and the peer's own frames: these tests race them on purpose.

ITERATIONS = 30  # per role: the arrival orders differ from round to round
END_ITERATIONS = 15  # each needs a fresh room


async def next_of(socket, kind, timeout=2):
    """The next frame of this type, skipping presence frames in between."""
    while True:
        received = await frame(socket, timeout)
        if received["type"] == kind:
            return received
        assert received["type"] in ("welcome", "peer-left", "peer-joined", "peer-media"), received


def signal(data):
    return json.dumps({"type": "signal", "data": data})


@pytest.mark.parametrize("replaced", ["patient", "doctor"])
async def test_the_newest_socket_is_reachable_at_once_after_a_replacement(room, replaced):
    doctor, patient, _ = await both(room)
    sockets = {"doctor": doctor, "patient": patient}
    stays = "patient" if replaced == "doctor" else "doctor"
    for i in range(ITERATIONS):
        old = sockets[replaced]
        new = await open_socket(client=old.client, room=room)
        assert (await frame(new))["type"] == "welcome"
        assert await closed_with(old) == 4409
        # At once: no waiting for the peer to hear about the new socket.
        await sockets[stays].send_to(text_data=signal({"to-new": i}))
        assert (await next_of(new, "signal"))["data"] == {"to-new": i}, i
        await new.send_to(text_data=signal({"from-new": i}))
        assert (await next_of(sockets[stays], "signal"))["data"] == {"from-new": i}, i
        await old.disconnect()
        sockets[replaced] = new
    assert await sync_to_async(Presence.objects.filter(room=room).count)() == 2
    for socket in sockets.values():
        await socket.disconnect()


@pytest.mark.parametrize("replaced", ["patient", "doctor"])
async def test_frames_racing_a_replacement_reach_only_the_newest_socket(room, replaced):
    doctor, patient, _ = await both(room)
    sockets = {"doctor": doctor, "patient": patient}
    stays = "patient" if replaced == "doctor" else "doctor"
    for i in range(ITERATIONS):
        old = sockets[replaced]
        # The peer sends while the new socket is being admitted and the old
        # one says goodbye: in whatever order they land, the old socket's frame
        # after its replacement and every frame after the welcome must be right.
        opening = asyncio.ensure_future(open_socket(client=old.client, room=room))
        await sockets[stays].send_to(text_data=signal({"racing": i}))
        await old.send_to(text_data=signal({"stale": i}))
        new = await opening
        assert (await frame(new))["type"] == "welcome"
        await asyncio.gather(
            old.disconnect(code=1006),  # the old network just died
            sockets[stays].send_to(text_data=signal({"after": i})),
        )
        assert (await next_of(new, "signal"))["data"] in ({"racing": i}, {"after": i})
        await new.send_to(text_data=signal({"back": i}))
        seen = []
        while not seen or seen[-1] != {"back": i}:
            seen.append((await next_of(sockets[stays], "signal"))["data"])
        assert set(map(json.dumps, seen)) <= {json.dumps({"stale": i}), json.dumps({"back": i})}
        sockets[replaced] = new
    # The peer was never told the replaced user left for good.
    assert await sync_to_async(Presence.objects.filter(room=room).count)() == 2
    for socket in sockets.values():
        await socket.disconnect()


async def test_events_from_an_older_connection_are_ignored_in_any_order(room):
    doctor, patient, _ = await both(room)
    old_pid = await sync_to_async(lambda: Presence.objects.get(user=room.patient).pk)()
    new = await open_socket(client=patient.client, room=room)
    assert (await frame(new))["type"] == "welcome"
    assert await closed_with(patient) == 4409
    assert (await frame(doctor))["reason"] == "replaced"
    assert (await frame(doctor))["type"] == "peer-joined"
    doctor_channel = await sync_to_async(
        lambda: Presence.objects.get(user=room.doctor).channel_name
    )()
    layer = consumers.get_channel_layer()
    # Late news about the replaced connection, arriving after the new one's:
    for stale in (
        {"type": "peer.left", "id": room.patient.pk, "pid": old_pid, "reason": "lost"},
        {"type": "relay", "pid": old_pid, "text": signal({"from": "old"})},
        {"type": "peer.joined", "pid": old_pid, "channel": "gone!x", "replaces": None,
         "peer": {"id": room.patient.pk}},
    ):  # fmt: skip
        await layer.send(doctor_channel, stale)
    assert await doctor.receive_nothing(timeout=0.3)
    await doctor.send_to(text_data=signal({"still": "reaches the new one"}))
    assert (await frame(new))["data"] == {"still": "reaches the new one"}
    await doctor.disconnect()
    await new.disconnect()


async def test_a_replaced_socket_sends_nothing_after_its_close(room):
    doctor, patient, _ = await both(room)
    old_channel = await sync_to_async(lambda: Presence.objects.get(user=room.doctor).channel_name)()
    second, _ = await joined(room.doctor, room)
    assert await closed_with(doctor) == 4409
    # Under Daphne, a frame sent after the close frame raises inside the
    # consumer ("Attempt to send on a closed protocol"): none may be sent.
    layer = consumers.get_channel_layer()
    await layer.send(old_channel, {"type": "peer.joined", "pid": 10**9, "channel": "x!y",
                                   "replaces": None, "peer": {"id": room.patient.pk}})  # fmt: skip
    await layer.send(old_channel, {"type": "relay", "pid": 10**9, "text": "{}"})
    assert await doctor.receive_nothing(timeout=0.3)
    for socket in (doctor, patient, second):
        await socket.disconnect()


async def test_end_from_two_sockets_of_the_doctor_at_once_reaches_every_socket(
    doctor, consented_patient
):
    from rooms.tests.factories import RoomFactory

    doctor_client = await sync_to_async(_session_client)(doctor)
    patient_client = await sync_to_async(_session_client)(consented_patient)
    for i in range(END_ITERATIONS):
        room = await sync_to_async(RoomFactory)(doctor=doctor, patient=consented_patient)
        first = await open_socket(client=doctor_client, room=room)
        patient = await open_socket(client=patient_client, room=room)
        second = await open_socket(client=doctor_client, room=room)
        await asyncio.gather(
            first.send_to(text_data=json.dumps({"type": "end"})),
            second.send_to(text_data=json.dumps({"type": "end"})),
        )
        assert (await next_of(second, "ended", timeout=5))["by"]["id"] == doctor.pk, i
        assert await closed_with(second) == 4410, i
        assert (await next_of(patient, "ended", timeout=5))["type"] == "ended", i
        assert await closed_with(patient) == 4410, i
        assert await closed_with(first) in (4409, 4410), i
        assert await sync_to_async(Room.objects.filter(pk=room.pk, status="ended").exists)()


async def test_a_socket_joining_as_the_room_ends_gets_ended_or_4410_never_silence(
    doctor, consented_patient
):
    from rooms.tests.factories import RoomFactory

    doctor_client = await sync_to_async(_session_client)(doctor)
    patient_client = await sync_to_async(_session_client)(consented_patient)
    for i in range(END_ITERATIONS):
        room = await sync_to_async(RoomFactory)(doctor=doctor, patient=consented_patient)
        first = await open_socket(client=doctor_client, room=room)
        assert (await frame(first))["type"] == "welcome"
        ending = first.send_to(text_data=json.dumps({"type": "end"}))
        late, _ = await asyncio.gather(open_socket(client=patient_client, room=room), ending)
        # Admitted before the end: welcomed, then told; admitted after: 4410 at once.
        assert await closed_with(late, timeout=5) == 4410, i
        assert await closed_with(first, timeout=5) == 4410, i


# --- Frames built to break the consumer ------------------------------------------------

HOSTILE_FRAMES = [
    # 20,000 levels of nesting in 40 KB: under the size limit.
    '{"type": "signal", "data": {"x": ' + "[" * 20_000 + "]" * 20_000 + "}}",
    '{"type": "ping", "id": ' + "[" * 5_000 + "]" * 5_000 + "}",
    '{"type": "stats", "rtt_ms": ' + "9" * 400 + "}",
    '{"type": "stats", "kbps_in": 1e400}',
    '{"type": "ping", "id": 1e400}',
    '{"type": "ping", "id": ' + "9" * 5_000 + "}",
    '{"type": "media", "audio": true, "video": ' + "[" * 5_000 + "]" * 5_000 + "}",
]


@pytest.mark.parametrize("text", HOSTILE_FRAMES, ids=lambda t: t[:30])
async def test_a_hostile_frame_gets_an_error_and_the_peer_notices_nothing(room, text, caplog):
    doctor, patient, _ = await both(room)
    await doctor.send_to(text_data=text)
    error = await frame(doctor)
    assert (error["type"], error["code"]) == ("error", "bad-message"), error
    await doctor.send_to(text_data=json.dumps({"type": "ping", "id": "alive"}))
    assert await frame(doctor) == {"type": "pong", "id": "alive"}
    assert await patient.receive_nothing(timeout=0.2)
    assert "Traceback" not in caplog.text
    await doctor.disconnect()
    await patient.disconnect()


async def test_a_crash_of_any_kind_still_runs_the_leave_path(room, monkeypatch):
    doctor, patient, _ = await both(room)

    async def broken(self, frame):
        raise RuntimeError("a bug")

    monkeypatch.setitem(consumers.SignalingConsumer.handlers, "ping", broken)
    await patient.send_to(text_data=json.dumps({"type": "ping", "id": 1}))
    assert await closed_with(patient) == 4500
    assert await frame(doctor) == {
        "type": "peer-left", "peer": {"id": room.patient.pk}, "reason": "lost"
    }  # fmt: skip
    assert not await sync_to_async(Presence.objects.filter(user=room.patient).exists)()
    await doctor.disconnect()


class DatabaseLocked:
    """Every query fails as SQLite's do when another process holds the lock past
    the busy timeout (PostgreSQL restarting looks the same to the code), on
    whichever thread runs it, until `on` is turned off."""

    def __init__(self, monkeypatch):
        from django.db import OperationalError
        from django.db.backends.utils import CursorWrapper

        self.on = True
        real = CursorWrapper._execute_with_wrappers

        def execute(cursor, *args, **kwargs):
            if self.on:
                raise OperationalError("database is locked")
            return real(cursor, *args, **kwargs)

        monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", execute)


async def test_a_busy_database_gets_try_again_and_the_socket_stays_open(room, caplog, monkeypatch):
    doctor, patient, _ = await both(room)
    locked = DatabaseLocked(monkeypatch)
    try:
        for text in (
            json.dumps({"type": "stats", "rtt_ms": 10}),
            json.dumps({"type": "media", "audio": False, "video": True}),
            json.dumps({"type": "end"}),
        ):
            await doctor.send_to(text_data=text)
            error = await frame(doctor)
            assert (error["type"], error["code"]) == ("error", "unavailable"), text
    finally:
        locked.on = False
    await doctor.send_to(text_data=json.dumps({"type": "stats", "rtt_ms": 10}))
    await doctor.send_to(text_data=json.dumps({"type": "ping", "id": 1}))
    assert (await frame(doctor))["type"] == "pong"
    assert await sync_to_async(CallSample.objects.filter(room=room).count)() == 1
    assert (await sync_to_async(Room.objects.get)(pk=room.pk)).status == "open"
    assert "Traceback" not in caplog.text
    await doctor.disconnect()
    await patient.disconnect()


def _locked_admission(monkeypatch):
    """The real admission, with the database locked from its first query on."""
    real = consumers._admit_and_join

    async def admit(*args):
        DatabaseLocked(monkeypatch)
        return await real(*args)

    return admit


async def test_a_busy_database_at_admission_closes_with_try_again_later(room, monkeypatch):
    client = await sync_to_async(_session_client)(room.patient)
    # Locked from the admission's first query on: the session's own row.
    monkeypatch.setattr(consumers, "_admit_and_join", _locked_admission(monkeypatch))
    socket = await open_socket(client=client, room=room)
    assert await closed_with(socket) == 4503
    monkeypatch.undo()
    assert not await sync_to_async(Presence.objects.filter(user=room.patient).exists)()


async def test_leaving_while_the_database_is_busy_is_retried(room, monkeypatch):
    monkeypatch.setattr(consumers, "LEAVE_RETRY_DELAYS", (0, 0.2, 0.2, 0.2))
    doctor, patient, _ = await both(room)
    locked = DatabaseLocked(monkeypatch)
    leaving = asyncio.ensure_future(patient.disconnect(code=1000))
    await asyncio.sleep(0.3)
    locked.on = False
    await leaving
    assert (await frame(doctor))["type"] == "peer-left"
    assert not await sync_to_async(Presence.objects.filter(user=room.patient).exists)()
    await doctor.disconnect()


# --- Password changes ------------------------------------------------------------------

NEW_PASSWORD = "outra-Senha-forte-2026"


def _change_password(client):
    from accounts.tests.factories import PASSWORD

    return client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )


async def test_changing_the_password_closes_the_sockets_of_the_other_sessions(room):
    elsewhere, _ = await joined(room.doctor, room)  # the phone, say
    notices_elsewhere = await open_socket(room.doctor, "/ws/notifications/")
    here = await sync_to_async(_session_client)(room.doctor)
    notices_here = await open_socket(client=here, path="/ws/notifications/")
    response = await sync_to_async(_change_password)(here)
    assert response.status_code == 302
    assert await closed_with(elsewhere) == 4401
    assert await closed_with(notices_elsewhere) == 4401
    assert await notices_here.receive_nothing(timeout=0.3)
    await notices_here.disconnect()


async def test_the_session_that_changed_the_password_keeps_its_call_until_it_logs_out(room):
    here = await sync_to_async(_session_client)(room.doctor)
    call = await open_socket(client=here, room=room)
    assert (await frame(call))["type"] == "welcome"
    response = await sync_to_async(_change_password)(here)
    assert response.status_code == 302
    assert await call.receive_nothing(timeout=0.3)
    # Django gave this session a new key; logging out still finds the socket.
    response = await sync_to_async(here.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await closed_with(call) == 4401


async def test_a_session_from_before_a_password_change_cannot_open_a_socket(room):
    # The session hash check of django.contrib.auth.get_user, made at admission:
    # an old cookie (another browser) is not signed in any more.
    elsewhere = await sync_to_async(_session_client)(room.doctor)
    here = await sync_to_async(_session_client)(room.doctor)
    response = await sync_to_async(_change_password)(here)
    assert response.status_code == 302
    socket = await open_socket(client=elsewhere, room=room)
    assert await closed_with(socket) == 4401
    socket = await open_socket(client=here, room=room)
    assert (await frame(socket))["type"] == "welcome"
    await socket.disconnect()


async def test_resetting_the_password_closes_all_their_sockets(room):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    call, _ = await joined(room.doctor, room)

    def reset():
        client = Client()
        uid = urlsafe_base64_encode(force_bytes(room.doctor.pk))
        token = default_token_generator.make_token(room.doctor)
        form = client.get(f"/accounts/password/reset/{uid}/{token}/")  # to the set-password step
        return client.post(form.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    response = await sync_to_async(reset)()
    assert response.status_code == 302
    assert await closed_with(call) == 4401


# --- Handshakes per address -----------------------------------------------------------


async def test_handshakes_past_the_limit_are_closed_with_4430_and_refill_over_time(settings):
    from asgiref.testing import ApplicationCommunicator

    from medconnect.websocket import HandshakeLimiter

    settings.WS_HANDSHAKES_PER_MINUTE = 3
    clock = [100.0]
    admitted = []

    async def app(scope, receive, send):
        admitted.append(scope["client"][0])
        await send({"type": "websocket.accept"})

    limiter = HandshakeLimiter(app, clock=lambda: clock[0])

    async def handshake(address="203.0.113.7", headers=()):
        scope = {"type": "websocket", "client": (address, 5000), "headers": list(headers)}
        communicator = ApplicationCommunicator(limiter, scope)
        await communicator.send_input({"type": "websocket.connect"})
        first = await communicator.receive_output(1)
        if first["type"] == "websocket.accept" and len(admitted) and admitted[-1] == address:
            admitted.pop()
            return "admitted"
        return (await communicator.receive_output(1))["code"]

    assert [await handshake() for _ in range(4)] == ["admitted"] * 3 + [4430]
    assert await handshake("198.51.100.2") == "admitted"  # another address has its own
    clock[0] += 20  # a minute's worth refills in a minute: one more after 20 s
    assert [await handshake() for _ in range(2)] == ["admitted", 4430]


async def test_behind_proxies_the_limit_counts_the_forwarded_address(settings):
    from medconnect.websocket import client_address

    settings.PROXY_COUNT = 1
    scope = {"client": ("10.0.0.1", 1), "headers": [(b"x-forwarded-for", b"1.2.3.4, 5.6.7.8")]}
    assert client_address(scope) == "5.6.7.8"
    settings.PROXY_COUNT = 0
    assert client_address(scope) == "10.0.0.1"


CLOSE_CODES = sorted(value for name, value in vars(consumers).items() if name.startswith("CLOSE_"))


@pytest.mark.parametrize("code", CLOSE_CODES)
async def test_every_close_code_the_consumer_sends_can_go_out_through_daphne(code):
    """Daphne closes through autobahn, which refuses codes an application may not
    send (the standard 1011 and 1013 among them) with an exception, and the
    browser never hears why. The communicator tests above do not go through it."""
    from autobahn.twisted.websocket import WebSocketServerProtocol

    protocol = WebSocketServerProtocol()
    protocol.state = protocol.STATE_OPEN
    protocol.closeHandshakeTimeout = 0
    sent = []
    protocol.sendFrame = lambda opcode, payload=b"", **_: sent.append((opcode, payload))
    protocol.sendClose(code=code)
    assert sent == [(8, code.to_bytes(2, "big"))]
