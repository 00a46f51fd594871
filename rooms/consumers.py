"""The signaling consumer: the server side of signaling-protocol.md (version 1).

Admission is decided once, on connect. After that the hot path (a `signal`
frame relayed to the other participant) touches no database: the peer's
channel name is learned at admission and from presence events, and the frame
goes with one direct `channel_layer.send`. Presence itself lives in the
database, so two server processes sharing Redis see the same room.
"""

import asyncio
import datetime as dt
import json
import logging
import math
import time
import uuid

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import translation

from accounts.models import Role

from . import ice, services
from .models import Room, RoomStatus

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
BUCKET_CAPACITY = 200.0
BUCKET_REFILL_PER_SECOND = 50.0
MAX_REFUSED_IN_A_ROW = 10

CLOSE_NOT_LOGGED_IN = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NO_ROOM = 4404
CLOSE_REPLACED = 4409
CLOSE_ENDED = 4410
CLOSE_FLOODING = 4429

# One id per server process: presences point at it, and its heartbeat says it is alive.
SERVER_ID = uuid.uuid4().hex
STATS_FIELDS = ("rtt_ms", "loss_pct", "kbps_in", "kbps_out")


class FrameError(Exception):
    def __init__(self, code: str, detail: str):
        self.code, self.detail = code, detail


def participant(user, *, audio=True, video=True) -> dict:
    return {
        "id": user.pk,
        "role": user.role,
        "name": user.display_name,
        "photo_url": f"/people/{user.pk}/photo/" if user.photo else None,
        "audio": audio,
        "video": video,
    }


@database_sync_to_async
def _admit_and_join(user, code, channel_name, session_key):
    """Decide admission and record presence in one trip to the database thread.

    Returns (close code or 0, room, Join). Admission is decided once, here.
    """
    # get(), not filter().first(): the code is unique, and first() would compile
    # an ORDER BY on every admission.
    try:
        room = Room.objects.select_related("doctor__doctor_profile", "patient").get(code=code)
    except Room.DoesNotExist:
        return CLOSE_NO_ROOM, None, None
    if user.pk not in (room.doctor_id, room.patient_id) or user.role == Role.ADMIN:
        return CLOSE_FORBIDDEN, None, None
    if room.status != RoomStatus.OPEN:
        return CLOSE_ENDED, None, None
    if user.role == Role.PATIENT and not services.consent_given(patient=user):
        # The call cannot start before the patient accepted the telemedicine term.
        return CLOSE_FORBIDDEN, None, None
    join = services.presence_join(
        room_id=room.pk,
        user=user,
        channel_name=channel_name,
        server_id=SERVER_ID,
        session_key=session_key,
    )
    if join.ended:
        return CLOSE_ENDED, None, None
    return 0, room, join


class SignalingConsumer(AsyncWebsocketConsumer):
    room_id = None
    peer_channel = ""
    peer_id = None
    replaced = False
    closing = False

    async def dispatch(self, message):
        # Channels' dispatch first hops to the database thread to close stale
        # connections, for every message: each relayed frame, twice (sender and
        # receiver), queued behind admissions on that one thread. Here every
        # database call goes through database_sync_to_async, which closes stale
        # connections itself, and relaying touches no database: the hop only cost time.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- Admission ---------------------------------------------------------

    async def connect(self):
        # Refusals are accepted and then closed, so the browser can read the code.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            return await self.close(CLOSE_NOT_LOGGED_IN)
        translation.activate(settings.LANGUAGE_CODE)
        session = self.scope.get("session")
        session_key = (session.session_key if session is not None else "") or ""
        await heartbeat.ensure_running()
        refusal, room, join = await _admit_and_join(
            user, self.scope["url_route"]["kwargs"]["code"], self.channel_name, session_key
        )
        if refusal:
            return await self.close(refusal)
        # The room's copy of the user comes with the profile `display_name` needs.
        self.user = user = room.doctor if user.pk == room.doctor_id else room.patient
        self.room_id = room.pk
        self.tokens = BUCKET_CAPACITY
        self.last_refill = time.monotonic()
        self.refused_in_a_row = 0
        self.me = participant(user)
        layer = self.channel_layer
        if join.replaced_channel:
            await layer.send(join.replaced_channel, {"type": "conn.replaced"})
        for peer in join.peers:
            if join.replaced_channel:
                await layer.send(
                    peer.channel_name,
                    {"type": "peer.left", "id": user.pk, "reason": "replaced",
                     "channel": join.replaced_channel},
                )  # fmt: skip
        if join.peers:
            self.peer_channel, self.peer_id = join.peers[0].channel_name, join.peers[0].user_id
        await self.send_json(
            {
                "type": "welcome",
                "self": self.me,
                "peers": [participant(p.user, audio=p.audio, video=p.video) for p in join.peers],
                "polite": user.role == Role.PATIENT,
                "ice_servers": ice.ice_servers_for(user),
                "room": {"code": room.code, "status": room.status},
            }
        )
        for peer in join.peers:
            await layer.send(
                peer.channel_name,
                {"type": "peer.joined", "peer": self.me, "channel": self.channel_name},
            )
        if user.role == Role.PATIENT and not join.peers:
            await layer.group_send(
                services.notify_group(room.doctor_id),
                {"type": "patient.waiting", "room": room.code, "patient": self.me},
            )

    async def disconnect(self, code):
        if self.room_id is None or self.replaced:
            return
        others = await database_sync_to_async(services.presence_leave)(
            room_id=self.room_id, user_id=self.user.pk, channel_name=self.channel_name
        )
        # A close frame (1000 going away, 1001 navigating) is a clean leave;
        # anything else (1006: the connection just died) is a lost peer.
        reason = "left" if code in (1000, 1001) or self.closing else "lost"
        for channel in others or ():
            await self.channel_layer.send(
                channel,
                {"type": "peer.left", "id": self.user.pk, "reason": reason,
                 "channel": self.channel_name},
            )  # fmt: skip

    async def close(self, code=None, reason=None):
        self.closing = True
        await super().close(code=code, reason=reason)

    # --- Frames from the browser -------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.room_id is None or self.closing:
            return
        try:
            self._take_token()
            if text_data is None:
                raise FrameError("bad-json", "Frames are JSON text.")
            # A character is at most 4 bytes in UTF-8: measure only when it may matter.
            if len(text_data) * 4 > MAX_FRAME_BYTES and len(text_data.encode()) > MAX_FRAME_BYTES:
                raise FrameError("too-large", "Frames are at most 64 KiB.")
            try:
                frame = json.loads(text_data)
            except ValueError:
                raise FrameError("bad-json", "This frame is not JSON.") from None
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise FrameError("bad-message", "A frame is an object with a string `type`.")
            handler = self.handlers.get(frame["type"])
            if handler is None:
                raise FrameError("unknown-type", f"Unknown frame type: {frame['type'][:40]}")
            await handler(self, frame)
        except FrameError as error:
            await self._refuse(error)
            return
        self.refused_in_a_row = 0

    def _take_token(self):
        now = time.monotonic()
        self.tokens = min(
            BUCKET_CAPACITY, self.tokens + (now - self.last_refill) * BUCKET_REFILL_PER_SECOND
        )
        self.last_refill = now
        if self.tokens < 1:
            raise FrameError("rate-limited", "Too many frames; slow down.")
        self.tokens -= 1

    async def _refuse(self, error: FrameError):
        self.refused_in_a_row += 1
        if self.refused_in_a_row >= MAX_REFUSED_IN_A_ROW:
            await self.close(CLOSE_FLOODING)
            return
        await self.send_json({"type": "error", "code": error.code, "detail": error.detail})

    async def on_signal(self, frame):
        data = frame.get("data")
        if not isinstance(data, dict):
            raise FrameError("bad-message", "`signal` needs an object `data`.")
        if self.peer_channel:
            text = json.dumps({"type": "signal", "from": self.user.pk, "data": data})
            await self.channel_layer.send(self.peer_channel, {"type": "relay", "text": text})
        # Absent peer: dropped without error; negotiation restarts when they join.

    async def on_media(self, frame):
        audio, video = frame.get("audio"), frame.get("video")
        if not isinstance(audio, bool) or not isinstance(video, bool):
            raise FrameError("bad-message", "`media` needs booleans `audio` and `video`.")
        self.me["audio"], self.me["video"] = audio, video
        await database_sync_to_async(services.presence_set_media)(
            channel_name=self.channel_name, audio=audio, video=video
        )
        if self.peer_channel:
            text = json.dumps(
                {"type": "peer-media", "peer": {"id": self.user.pk, "audio": audio, "video": video}}
            )
            await self.channel_layer.send(self.peer_channel, {"type": "relay", "text": text})

    async def on_ping(self, frame):
        ping_id = frame.get("id")
        if isinstance(ping_id, bool) or not isinstance(ping_id, (str, int, float)):
            raise FrameError("bad-message", "`ping` needs an `id` (string or number).")
        await self.send(text_data=json.dumps({"type": "pong", "id": ping_id}))

    async def on_stats(self, frame):
        sample = {}
        for name in STATS_FIELDS:
            value = frame.get(name)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise FrameError("bad-message", f"`{name}` must be a non-negative number.")
            sample[name] = float(value)
        await database_sync_to_async(services.call_sample_record)(
            room_id=self.room_id, user=self.user, sample=sample
        )

    async def on_end(self, frame):
        if self.user.role != Role.DOCTOR:
            raise FrameError("forbidden", "Only the doctor can end the consultation.")
        room = await database_sync_to_async(Room.objects.get)(pk=self.room_id)
        await database_sync_to_async(services.room_finalize)(room=room, by=self.user)

    handlers = {
        "signal": on_signal,
        "media": on_media,
        "ping": on_ping,
        "stats": on_stats,
        "end": on_end,
    }

    # --- Events from the channel layer -------------------------------------

    async def relay(self, event):
        await self.send(text_data=event["text"])

    async def peer_joined(self, event):
        peer = event["peer"]
        if peer["id"] == self.user.pk:
            return
        self.peer_channel, self.peer_id = event["channel"], peer["id"]
        await self.send_json({"type": "peer-joined", "peer": peer})

    async def peer_left(self, event):
        if event["id"] == self.user.pk:
            return
        # A swept peer comes without a channel; a replaced one names its old channel.
        if event["id"] == self.peer_id and event["channel"] in ("", self.peer_channel):
            self.peer_channel, self.peer_id = "", None
        await self.send_json(
            {"type": "peer-left", "peer": {"id": event["id"]}, "reason": event["reason"]}
        )

    async def conn_replaced(self, event):
        self.replaced = True
        await self.close(CLOSE_REPLACED)

    async def room_ended(self, event):
        await self.send_json({"type": "ended", "by": event["by"], "at": event["at"]})
        await self.close(CLOSE_ENDED)

    async def access_revoked(self, event):
        await self.close(CLOSE_NOT_LOGGED_IN)

    async def send_json(self, content):
        await self.send(text_data=json.dumps(content))


class Heartbeat:
    """This process's heartbeat, and the sweep of processes that stopped beating.

    Started by the first connection in the process. A participant held by a
    dead process is reported `lost` to their room within STALE_AFTER.
    """

    INTERVAL = 5
    STALE_AFTER = 20

    def __init__(self):
        self.task = None

    async def ensure_running(self):
        if self.task is None or self.task.done():
            await database_sync_to_async(services.server_beat)(server_id=SERVER_ID)
            self.task = asyncio.ensure_future(self.run())

    async def run(self):
        while True:
            await asyncio.sleep(self.INTERVAL)
            try:
                await self.tick()
            except Exception:
                logger.exception("Presence heartbeat failed; retrying")

    async def tick(self):
        """Beat for this process, then report the participants of dead ones as lost."""
        await database_sync_to_async(services.server_beat)(server_id=SERVER_ID)
        swept = await database_sync_to_async(services.presence_sweep_dead_servers)(
            timeout=dt.timedelta(seconds=self.STALE_AFTER)
        )
        layer = get_channel_layer()
        for user_id, others in swept:
            for channel in others:
                await layer.send(
                    channel, {"type": "peer.left", "id": user_id, "reason": "lost", "channel": ""}
                )


heartbeat = Heartbeat()


class NotificationConsumer(AsyncWebsocketConsumer):
    """A doctor's live notifications: a patient is waiting in one of their rooms.

    Same admission rules as the signaling socket: 4401 when not logged in,
    4403 for anyone but a doctor; closed on logout or deactivation.
    """

    groups_joined: list[str] = []

    async def connect(self):
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            return await self.close(CLOSE_NOT_LOGGED_IN)
        if user.role != Role.DOCTOR:
            return await self.close(CLOSE_FORBIDDEN)
        self.groups_joined = [services.notify_group(user.pk), services.user_group(user.pk)]
        session = self.scope.get("session")
        if session is not None and session.session_key:
            self.groups_joined.append(services.session_group(session.session_key))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code):
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.send(
            text_data=json.dumps(
                {"type": "error", "code": "unknown-type", "detail": "This socket only listens."}
            )
        )

    async def patient_waiting(self, event):
        await self.send(
            text_data=json.dumps(
                {"type": "patient-waiting", "room": event["room"], "patient": event["patient"]}
            )
        )

    async def access_revoked(self, event):
        await self.close(CLOSE_NOT_LOGGED_IN)
