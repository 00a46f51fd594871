"""A reset signs the people it deletes out of their live calls, as a deactivation does."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from medconnect import reset
from medconnect.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture(autouse=True)
def folders(settings, tmp_path):
    settings.RESET_BACKUP_DIR = tmp_path / "backups"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def in_the_call(user, room):
    cookie = await sync_to_async(_session_cookie)(user)
    socket = WebsocketCommunicator(
        application,
        f"/ws/rooms/{room.code}/",
        headers=[(b"host", b"testserver"), (b"origin", b"http://testserver"), (b"cookie", cookie)],
    )
    connected, _code = await socket.connect()
    assert connected
    assert json.loads(await socket.receive_from(timeout=2))["type"] == "welcome"
    return socket


async def close_code(socket, timeout=3):
    while True:
        message = await socket.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            return message.get("code")


async def test_a_reset_closes_the_call_sockets_of_the_people_it_deletes(room, admin_user):
    doctor = await in_the_call(room.doctor, room)
    patient = await in_the_call(room.patient, room)

    await sync_to_async(reset.database_reset)(by=admin_user)

    assert await close_code(patient) == 4401
    assert await close_code(doctor) == 4401
