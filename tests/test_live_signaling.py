"""The signaling socket on real Daphne processes: what only a real server shows.

The handshake refusals (HTTP 403), the 1 MiB hard cap (close 1009), a socket
that goes silent, and two server processes sharing one Redis channel layer
and one database.
"""

import asyncio
import base64
import contextlib
import json
import os
import socket
import time
import urllib.parse

import pytest
import websockets
from django.test import Client

from rooms.models import Room, ServerInstance

from .conftest import DaphneServer, require

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1"


def cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.fixture
def server(tmp_path):
    daphne = DaphneServer(tmp_path).start()
    yield daphne
    daphne.stop()
    assert not daphne.errors(), daphne.errors()


def ws_url(server, path):
    return server.url.replace("http://", "ws://") + path


async def connect(server, path, *, cookie=None, origin=None):
    headers = {"Cookie": cookie} if cookie else {}
    return await websockets.connect(
        ws_url(server, path),
        origin=origin if origin is not None else server.url,
        additional_headers=headers,
        max_size=4 * 1024 * 1024,
        open_timeout=10,
    )


async def next_frame(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws, kind, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        frame = await next_frame(ws, max(0.1, deadline - time.monotonic()))
        if frame["type"] == kind:
            return frame


def test_a_foreign_origin_gets_http_403_at_the_handshake(server, room):
    cookie = cookie_for(room.doctor)

    async def scenario():
        for origin in ("http://evil.example", server.url.replace("http:", "https:")):
            with pytest.raises(websockets.InvalidStatus) as refused:
                await connect(server, f"/ws/rooms/{room.code}/", cookie=cookie, origin=origin)
            assert refused.value.response.status_code == 403

    asyncio.run(scenario())


def test_an_unknown_websocket_path_is_refused_cleanly(server, doctor):
    async def scenario():
        with pytest.raises(websockets.InvalidStatus) as refused:
            await connect(server, "/ws/elsewhere/", cookie=cookie_for_sync)
        assert refused.value.response.status_code == 403

    cookie_for_sync = cookie_for(doctor)
    asyncio.run(scenario())
    assert "Traceback" not in server.log_path.read_text()


def test_a_frame_over_one_mib_closes_the_socket_with_1009(server, room):
    cookie = cookie_for(room.doctor)

    async def scenario():
        ws = await connect(server, f"/ws/rooms/{room.code}/", cookie=cookie)
        assert (await next_frame(ws))["type"] == "welcome"
        await ws.send("x" * (1024 * 1024 + 1))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 1009

    asyncio.run(scenario())


def test_a_socket_is_admitted_right_after_a_reset_took_the_servers_heartbeat_row(server, room):
    """A database reset (or a sweep while this process was paused) deletes the
    server's heartbeat row, which the process beat seconds ago and so does not
    write again on the next join: that join's presence would point at nothing."""
    doctor_cookie, patient_cookie = cookie_for(room.doctor), cookie_for(room.patient)

    async def first():
        ws = await connect(server, f"/ws/rooms/{room.code}/", cookie=doctor_cookie)
        assert (await next_frame(ws))["type"] == "welcome"
        await ws.close()

    async def after_the_reset():
        ws = await connect(server, f"/ws/rooms/{room.code}/", cookie=patient_cookie)
        assert (await next_frame(ws))["type"] == "welcome"
        await ws.close()

    asyncio.run(first())
    assert ServerInstance.objects.all().delete()[0]
    asyncio.run(after_the_reset())
    assert ServerInstance.objects.count() == 1


def _silent_socket(server, path, cookie):
    """Open a WebSocket by hand and then never read again: no pong, no close."""
    url = urllib.parse.urlsplit(server.url)
    raw = socket.create_connection((url.hostname, url.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {server.url}\r\nCookie: {cookie}\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += raw.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return raw


def test_a_silent_participant_is_reported_lost_within_30_seconds(server, room):
    doctor_cookie, patient_cookie = cookie_for(room.doctor), cookie_for(room.patient)

    async def scenario():
        doctor = await connect(server, f"/ws/rooms/{room.code}/", cookie=doctor_cookie)
        assert (await next_frame(doctor))["type"] == "welcome"
        silent = await asyncio.to_thread(
            _silent_socket, server, f"/ws/rooms/{room.code}/", patient_cookie
        )
        try:
            assert (await until(doctor, "peer-joined"))["peer"]["id"] == room.patient.pk
            went_silent = time.monotonic()
            left = await until(doctor, "peer-left", timeout=35)
            waited = time.monotonic() - went_silent
        finally:
            silent.close()
        assert left["reason"] == "lost"
        assert waited < 30, f"lost reported after {waited:.1f} s"
        # Rejoining an open room is always allowed.
        patient = await connect(server, f"/ws/rooms/{room.code}/", cookie=patient_cookie)
        assert (await next_frame(patient))["type"] == "welcome"
        assert (await until(doctor, "peer-joined"))["peer"]["id"] == room.patient.pk
        await patient.close()
        await doctor.close()

    asyncio.run(scenario())


def test_two_server_processes_share_presence_signals_and_the_end(tmp_path, room):
    redis = urllib.parse.urlsplit(REDIS_URL)
    try:
        socket.create_connection((redis.hostname, redis.port or 6379), timeout=2).close()
        reachable = True
    except OSError:
        reachable = False
    require(reachable, f"Redis is not reachable at {REDIS_URL}")
    env = {"REDIS_URL": REDIS_URL}
    first = DaphneServer(tmp_path / "a", extra_env=env)
    second = DaphneServer(tmp_path / "b", extra_env=env)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first.start()
    second.start()
    doctor_cookie, patient_cookie = cookie_for(room.doctor), cookie_for(room.patient)

    async def scenario():
        doctor = await connect(first, f"/ws/rooms/{room.code}/", cookie=doctor_cookie)
        assert (await next_frame(doctor))["peers"] == []
        patient = await connect(second, f"/ws/rooms/{room.code}/", cookie=patient_cookie)
        welcome = await next_frame(patient)
        assert [p["id"] for p in welcome["peers"]] == [room.doctor.pk]
        assert (await until(doctor, "peer-joined"))["peer"]["id"] == room.patient.pk
        offer = {"description": {"type": "offer", "sdp": "v=0 cross-process"}}
        await doctor.send(json.dumps({"type": "signal", "data": offer}))
        assert (await until(patient, "signal"))["data"] == offer
        answer = {"description": {"type": "answer", "sdp": "v=0 back"}}
        await patient.send(json.dumps({"type": "signal", "data": answer}))
        assert (await until(doctor, "signal"))["data"] == answer
        await doctor.send(json.dumps({"type": "end"}))
        for ws in (doctor, patient):
            assert (await until(ws, "ended"))["by"]["id"] == room.doctor.pk
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd.code == 4410

    try:
        asyncio.run(scenario())
    finally:
        first.stop()
        second.stop()
    assert Room.objects.get(pk=room.pk).status == "ended"
    assert not first.errors() and not second.errors(), first.errors() + second.errors()


# --- Replacement races on real servers ---------------------------------------------------

ROUNDS = 10  # per role, alternating servers; then ten concurrent ends


def redis_or_skip():
    redis = urllib.parse.urlsplit(REDIS_URL)
    try:
        socket.create_connection((redis.hostname, redis.port or 6379), timeout=2).close()
    except OSError:
        require(False, f"Redis is not reachable at {REDIS_URL}")


@pytest.fixture(params=["one process", "two processes"])
def servers(request, tmp_path):
    """(server A, server B): the same process twice, or two processes on Redis."""
    if request.param == "one process":
        (tmp_path / "a").mkdir()
        first = DaphneServer(tmp_path / "a").start()
        started = [first]
        pair = (first, first)
    else:
        redis_or_skip()
        env = {"REDIS_URL": REDIS_URL}
        started = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            started.append(DaphneServer(tmp_path / name, extra_env=env).start())
        pair = tuple(started)
    yield pair
    for daphne in started:
        daphne.stop()
    errors = "".join(daphne.errors() for daphne in started)
    assert not errors, errors


async def closed_code(ws, timeout=10):
    deadline = time.monotonic() + timeout
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
    return closed.value.rcvd.code if closed.value.rcvd else None


async def reconnect_rounds(first, second, room, replaced):
    """The `replaced` participant reconnects ROUNDS times, alternating servers;
    right after each welcome both sides send, and both frames must arrive."""
    cookies = {"doctor": cookie_for_async(room.doctor), "patient": cookie_for_async(room.patient)}
    cookies = {role: await cookie for role, cookie in cookies.items()}
    stays = "patient" if replaced == "doctor" else "doctor"
    path = f"/ws/rooms/{room.code}/"
    sockets = {"doctor": await connect(first, path, cookie=cookies["doctor"])}
    await next_frame(sockets["doctor"])
    sockets["patient"] = await connect(second, path, cookie=cookies["patient"])
    await next_frame(sockets["patient"])
    for i in range(ROUNDS):
        old = sockets[replaced]
        new = await connect((first, second)[i % 2], path, cookie=cookies[replaced])
        assert (await next_frame(new))["type"] == "welcome"
        # At once: before the old socket's 4409 has even been read.
        await sockets[stays].send(json.dumps({"type": "signal", "data": {"to-new": i}}))
        assert await closed_code(old) == 4409
        assert (await until(new, "signal", timeout=5))["data"] == {"to-new": i}, (replaced, i)
        await new.send(json.dumps({"type": "signal", "data": {"from-new": i}}))
        back = await until(sockets[stays], "signal", timeout=5)
        assert back["data"] == {"from-new": i}, (replaced, i)
        sockets[replaced] = new
    for ws in sockets.values():
        await ws.close()


def cookie_for_async(user):
    from asgiref.sync import sync_to_async

    return sync_to_async(cookie_for)(user)


async def send_end(ws):
    with contextlib.suppress(websockets.ConnectionClosed):
        await ws.send(json.dumps({"type": "end"}))


async def end_from_two_doctor_sockets(first, second, open_room, doctor_cookie, patient_cookie):
    """Both of the doctor's sockets send `end` at once: every socket that was
    welcomed is told `ended` and closed with 4410; one admitted after the end
    gets 4410 without a welcome. None stays open."""
    from asgiref.sync import sync_to_async

    for i in range(ROUNDS):
        room = await sync_to_async(open_room)()
        path = f"/ws/rooms/{room.code}/"
        patient = await connect(second, path, cookie=patient_cookie)
        assert (await next_frame(patient))["type"] == "welcome"
        older = await connect(first, path, cookie=doctor_cookie)
        assert (await next_frame(older))["type"] == "welcome"
        newer = await connect(second, path, cookie=doctor_cookie)
        # The older one may already be closed (4409) by the time its `end` goes out.
        await asyncio.gather(send_end(older), send_end(newer))
        try:
            welcomed = (await next_frame(newer))["type"] == "welcome"
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd.code == 4410, i
        else:
            assert welcomed, i
            assert (await until(newer, "ended", timeout=5))["type"] == "ended", i
            assert await closed_code(newer) == 4410, i
        assert (await until(patient, "ended", timeout=5))["type"] == "ended", i
        assert await closed_code(patient) == 4410, i
        assert await closed_code(older) in (4409, 4410), i


def test_reconnects_and_concurrent_ends_on_one_or_two_processes(servers, room):
    from accounts.tests.factories import PatientFactory
    from rooms.tests.factories import ConsentFactory, RoomFactory

    first, second = servers
    patient = PatientFactory(doctor=room.doctor)
    ConsentFactory(patient=patient)
    rooms = []

    def open_room():
        # One open room per pair (rooms_one_open_room_per_pair): each round's
        # room is opened once the previous one has ended.
        rooms.append(RoomFactory(doctor=room.doctor, patient=patient))
        return rooms[-1]

    doctor_cookie, patient_cookie = cookie_for(room.doctor), cookie_for(patient)

    async def scenario():
        for replaced in ("patient", "doctor"):
            await reconnect_rounds(first, second, room, replaced)
        await end_from_two_doctor_sockets(first, second, open_room, doctor_cookie, patient_cookie)

    asyncio.run(scenario())
    assert Room.objects.filter(pk__in=[r.pk for r in rooms], status="ended").count() == ROUNDS
    # Hostile frames on the same servers: error frames, and the server logs no traceback.
    hostile_frames_get_errors(first, room)


def hostile_frames_get_errors(server, room):
    from rooms.models import Presence

    doctor_cookie, patient_cookie = cookie_for(room.doctor), cookie_for(room.patient)
    deep = '{"type": "signal", "data": {"x": ' + "[" * 20_000 + "]" * 20_000 + "}}"

    async def scenario():
        doctor = await connect(server, f"/ws/rooms/{room.code}/", cookie=doctor_cookie)
        await next_frame(doctor)
        patient = await connect(server, f"/ws/rooms/{room.code}/", cookie=patient_cookie)
        await next_frame(patient)
        for text in (deep, '{"type": "stats", "rtt_ms": ' + "9" * 400 + "}"):
            await patient.send(text)
            assert (await until(patient, "error"))["code"] == "bad-message"
        await patient.close()
        assert (await until(doctor, "peer-left"))["reason"] == "left"
        await doctor.close()

    asyncio.run(scenario())
    deadline = time.monotonic() + 5
    while Presence.objects.filter(room=room).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Presence.objects.filter(room=room).exists()


def test_handshakes_past_the_per_address_limit_close_with_4430(tmp_path):
    daphne = DaphneServer(tmp_path, extra_env={"WS_HANDSHAKES_PER_MINUTE": "20"}).start()

    async def one():
        # Anonymous: admitted sockets close at once with 4401, refused ones with 4430.
        ws = await connect(daphne, "/ws/rooms/anything/")
        return await closed_code(ws)

    async def scenario():
        return await asyncio.gather(*(one() for _ in range(30)))

    try:
        codes = asyncio.run(scenario())
    finally:
        daphne.stop()
    # A burst of 20, refilled at 20 a minute while the burst lasts (a second or so).
    assert 20 <= codes.count(4401) <= 22, codes
    assert codes.count(4430) == 30 - codes.count(4401), codes
    assert not daphne.errors(), daphne.errors()
