"""The signaling consumer: the server side of signaling-protocol.md (version 1).

Admission is decided once, on connect. After that the hot path (a `signal`
frame relayed to the other participant) touches no database: the frame goes
with one direct `channel_layer.send` to the peer's channel, which the consumer
keeps in memory.

Who is in a room, and through which channel, is the Presence table, and only
that: one row per (room, user), replaced in one transaction under the room's
lock, each connection a new row whose id only grows. The copy each consumer
keeps is stamped with that id (a generation number), every presence event and
every relayed frame carries the sender's id, and anything stamped older than
what the consumer knows is stale and dropped, whatever order it arrives in. A
new connection is not welcomed (and the one it replaces is not closed) until
the peer's consumer has switched its copy to it, so nobody can see the
replacement before the peer can reach the new socket.
"""

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import time
import uuid

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import DatabaseError, IntegrityError
from django.utils import translation

from accounts.middleware import session_is_expired
from accounts.models import Role

from . import admission, ice, services
from .models import Room

try:
    from autobahn.exception import Disconnected
except ImportError:  # not served by Daphne (tests with WebsocketCommunicator)

    class Disconnected(Exception):  # noqa: N818 - autobahn's name
        pass


logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
BUCKET_CAPACITY = 200.0
BUCKET_REFILL_PER_SECOND = 50.0
MAX_REFUSED_IN_A_ROW = 10
# How long a new connection waits for the peer's consumer to switch to it
# before being welcomed anyway (a peer on a process that died unnoticed never answers).
PEER_ACK_TIMEOUT = 2.0
# Retries of the presence row's removal when the database is briefly unavailable.
LEAVE_RETRY_DELAYS = (0, 0.5, 1, 2, 4)

# Codes an application may send: Daphne's autobahn refuses anything but 1000 and
# 3000-4999, so the standard 1011 and 1013 would never reach the browser.
CLOSE_SERVER_ERROR = 4500  # a bug on the server
CLOSE_TRY_AGAIN = 4503  # the database did not answer: try again with the usual backoff
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


def _non_negative_number(value) -> float | None:
    """The float a stats field holds, or None when it is not a usable number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)  # a 400-digit integer does not fit a float
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


_CLOSE_FOR = {
    admission.Refusal.NOT_LOGGED_IN: CLOSE_NOT_LOGGED_IN,
    admission.Refusal.NO_ROOM: CLOSE_NO_ROOM,
    admission.Refusal.FORBIDDEN: CLOSE_FORBIDDEN,
    admission.Refusal.ENDED: CLOSE_ENDED,
}


@database_sync_to_async
def _admit_and_join(session, code, channel_name):
    """Admission and presence in one trip to the database thread (rooms.admission).

    Every trip queues behind all other admissions on the one database thread
    (after a restart, every call at once). Returns (close code or 0, Join).
    Admission is decided once, here.
    """
    beat = heartbeat.due()  # here, not when queued: under a storm the queue takes seconds
    try:
        outcome = admission.admit(session, code, channel_name, server_id=SERVER_ID, beat=beat)
    except IntegrityError:
        if beat:
            raise
        # This process's heartbeat row is gone although it beat recently: the
        # database was reset, or another process swept it while this one was
        # paused. The join writes it again, once.
        outcome = admission.admit(session, code, channel_name, server_id=SERVER_ID, beat=True)
    if isinstance(outcome, admission.Refusal):
        return _CLOSE_FOR[outcome], None
    return 0, outcome


class SignalingConsumer(AsyncWebsocketConsumer):
    room_id = None
    presence_id = 0
    # The other participant as this socket knows them: the presence id of their
    # newest connection heard of, its channel while they are present, and the
    # highest presence id reported gone.
    peer_pid = 0
    peer_gone = 0
    peer_channel = ""
    peer_id = None
    replaced = False
    closing = False
    left = False

    async def dispatch(self, message):
        # Channels' dispatch first hops to the database thread to close stale
        # connections, for every message: each relayed frame, twice (sender and
        # receiver), queued behind admissions on that one thread. Here every
        # database call goes through database_sync_to_async, which closes stale
        # connections itself, and relaying touches no database: the hop only cost time.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        try:
            await handler(message)
        except StopConsumer:
            raise
        except Exception:
            # A bug, not bad input (bad frames are refused in receive). The peer
            # must still hear that we are gone, and no presence row may stay behind.
            logger.exception("Signaling consumer failed on %s; closing", message["type"])
            await self._leave("lost")
            await self.close(CLOSE_SERVER_ERROR)
            raise StopConsumer from None

    async def send(self, text_data=None, bytes_data=None, close=False):
        if self.closing:
            return  # after our close frame: nothing more may go out (Daphne would raise)
        # The browser may go away while a frame is on its way to it. Leaving is
        # normal: the disconnect that follows runs the leave path.
        with contextlib.suppress(Disconnected):
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def _tell(self, channel, event):
        try:
            await self.channel_layer.send(channel, event)
        except ChannelFull:
            logger.warning("Channel %s is full; dropped a %s", channel, event["type"])

    # --- Admission ---------------------------------------------------------

    async def connect(self):
        # Refusals are accepted and then closed, so the browser can read the code.
        await self.accept()
        translation.activate(settings.LANGUAGE_CODE)
        try:
            await heartbeat.ensure_running()
            refusal, join = await _admit_and_join(
                self.scope.get("session"),
                self.scope["url_route"]["kwargs"]["code"],
                self.channel_name,
            )
        except DatabaseError as error:
            # Locked or unreachable for longer than its timeout: nothing was
            # recorded (the join is one transaction); the client retries.
            logger.warning("Admission failed, the database did not answer: %s", error)
            return await self.close(CLOSE_TRY_AGAIN)
        if refusal:
            return await self.close(refusal)
        room = join.room
        self.user = user = join.user
        self.room_id = room.pk
        self.presence_id = join.presence_id
        self.tokens = BUCKET_CAPACITY
        self.last_refill = time.monotonic()
        self.refused_in_a_row = 0
        self.me = participant(user)
        for peer in join.peers:
            self.peer_pid, self.peer_channel = peer.pk, peer.channel_name
            self.peer_id = peer.user_id
            await self._announce(peer.channel_name, replaces=join.replaced_id)
        if join.replaced_channel:
            await self._tell(join.replaced_channel, {"type": "conn.replaced"})
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
        if user.role == Role.PATIENT and not join.peers:
            await self.channel_layer.group_send(
                services.notify_group(room.doctor_id),
                {"type": "patient.waiting", "room": room.code, "patient": self.me},
            )

    async def _announce(self, channel, *, replaces):
        """Tell the peer's consumer we are here, and wait until it has switched to us.

        Only then is this connection welcomed and the one it replaces closed:
        whatever the peer sends after either can be seen already reaches us.
        The answer comes on a channel of its own, since this consumer's own
        channel is only read between handlers.
        """
        reply_to = await self.channel_layer.new_channel()
        await self._tell(
            channel,
            {
                "type": "peer.joined",
                "peer": self.me,
                "pid": self.presence_id,
                "channel": self.channel_name,
                "replaces": replaces,
                "reply_to": reply_to,
            },
        )
        try:
            await asyncio.wait_for(self.channel_layer.receive(reply_to), PEER_ACK_TIMEOUT)
        except TimeoutError:
            logger.info("Peer on %s did not confirm a join in time", channel)

    async def disconnect(self, code):
        # A close frame (1000 going away, 1001 navigating) is a clean leave;
        # anything else (1006: the connection just died) is a lost peer.
        await self._leave("left" if code in (1000, 1001) or self.closing else "lost")

    async def _leave(self, reason):
        """Remove this connection's presence and tell whoever is still there. Runs once."""
        if self.room_id is None or self.replaced or self.left:
            return
        self.left = True
        for delay in LEAVE_RETRY_DELAYS:
            await asyncio.sleep(delay)
            try:
                others = await database_sync_to_async(services.presence_leave)(
                    room_id=self.room_id, user_id=self.user.pk, channel_name=self.channel_name
                )
                break
            except DatabaseError as error:
                logger.warning("Could not remove a presence yet (%s); retrying", error)
        else:
            logger.error("Presence %s stayed behind: the database did not answer", self.presence_id)
            return
        gone = {"type": "peer.left", "id": self.user.pk, "pid": self.presence_id, "reason": reason}
        for channel in others or ():
            await self._tell(channel, gone)

    async def close(self, code=None, reason=None):
        self.closing = True
        with contextlib.suppress(Disconnected):
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
            except RecursionError:
                raise FrameError("bad-message", "This frame is nested too deeply.") from None
            except json.JSONDecodeError:
                raise FrameError("bad-json", "This frame is not JSON.") from None
            except ValueError:  # JSON, but an integer longer than Python converts
                raise FrameError("bad-message", "A number in this frame is too long.") from None
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise FrameError("bad-message", "A frame is an object with a string `type`.")
            handler = self.handlers.get(frame["type"])
            if handler is None:
                raise FrameError("unknown-type", f"Unknown frame type: {frame['type'][:40]}")
            await handler(self, frame)
        except FrameError as error:
            await self._refuse(error)
            return
        except (RecursionError, OverflowError, ValueError):
            # Valid JSON the handlers cannot carry (nested too deep to re-encode,
            # a number out of range): the sender's fault, refused like any bad frame.
            await self._refuse(FrameError("bad-message", "This frame cannot be processed."))
            return
        except DatabaseError as error:
            # Not the sender's fault: it does not count towards the flood limit.
            logger.warning("A %s frame waits for the database: %s", frame["type"], error)
            await self.send_json(
                {"type": "error", "code": "unavailable", "detail": "Busy; try again shortly."}
            )
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

    async def _relay(self, text):
        await self.channel_layer.send(
            self.peer_channel, {"type": "relay", "text": text, "pid": self.presence_id}
        )

    async def on_signal(self, frame):
        data = frame.get("data")
        if not isinstance(data, dict):
            raise FrameError("bad-message", "`signal` needs an object `data`.")
        if self.peer_channel:
            await self._relay(json.dumps({"type": "signal", "from": self.user.pk, "data": data}))
        # Absent peer: dropped without error; negotiation restarts when they join.

    async def on_media(self, frame):
        audio, video = frame.get("audio"), frame.get("video")
        if not isinstance(audio, bool) or not isinstance(video, bool):
            raise FrameError("bad-message", "`media` needs booleans `audio` and `video`.")
        await database_sync_to_async(services.presence_set_media)(
            channel_name=self.channel_name, audio=audio, video=video
        )
        self.me["audio"], self.me["video"] = audio, video
        if self.peer_channel:
            peer = {"id": self.user.pk, "audio": audio, "video": video}
            await self._relay(json.dumps({"type": "peer-media", "peer": peer}))

    async def on_ping(self, frame):
        ping_id = frame.get("id")
        if (
            isinstance(ping_id, bool)
            or not isinstance(ping_id, (str, int, float))
            or (isinstance(ping_id, float) and not math.isfinite(ping_id))
        ):
            raise FrameError("bad-message", "`ping` needs an `id` (string or number).")
        await self.send(text_data=json.dumps({"type": "pong", "id": ping_id}))

    async def on_stats(self, frame):
        sample = {}
        for name in STATS_FIELDS:
            value = frame.get(name)
            if value is None:
                continue
            number = _non_negative_number(value)
            if number is None:
                raise FrameError("bad-message", f"`{name}` must be a non-negative number.")
            sample[name] = number
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
        # From a connection older than the peer's newest, or one reported gone: stale.
        pid = event.get("pid", 0)
        if pid < self.peer_pid or pid <= self.peer_gone:
            return
        await self.send(text_data=event["text"])

    async def peer_joined(self, event):
        pid, peer = event["pid"], event["peer"]
        fresh = peer["id"] != self.user.pk and pid >= self.peer_pid and pid > self.peer_gone
        if fresh:
            self.peer_pid, self.peer_channel, self.peer_id = pid, event["channel"], peer["id"]
        # Answer even a stale announcement: its sender is waiting for it.
        if event.get("reply_to"):
            await self._tell(event["reply_to"], {"type": "peer.ready"})
        if not fresh:
            return
        if event.get("replaces"):
            await self.send_json(
                {"type": "peer-left", "peer": {"id": peer["id"]}, "reason": "replaced"}
            )
        await self.send_json({"type": "peer-joined", "peer": peer})

    async def peer_left(self, event):
        pid = event["pid"]
        if event["id"] == self.user.pk or pid < self.peer_pid or pid <= self.peer_gone:
            return  # a connection already replaced: its goodbye changes nothing
        self.peer_gone = pid
        self.peer_channel, self.peer_id = "", None
        await self.send_json(
            {"type": "peer-left", "peer": {"id": event["id"]}, "reason": event["reason"]}
        )

    async def conn_replaced(self, event):
        self.replaced = True
        await self.close(CLOSE_REPLACED)

    async def room_ended(self, event):
        self.left = True  # room_finalize removed every presence row
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
        self.starting = None
        self.beat_at = -math.inf

    def due(self) -> bool:
        """Whether a join should beat too: this process's last beat is half-way to stale.

        A fresher beat means no process can have swept this process's row
        (that takes STALE_AFTER without a beat), so the new presence can point
        at it without writing it again. Half, not one INTERVAL: under a
        reconnect storm the tick's own beat queues behind the admissions.
        """
        return time.monotonic() - self.beat_at > self.STALE_AFTER / 2

    async def beat(self):
        at = time.monotonic()  # before the write: the row is at least this fresh
        await database_sync_to_async(services.server_beat)(server_id=SERVER_ID)
        self.beat_at = at

    async def ensure_running(self):
        """Start the heartbeat, once per process: every connection waits for that start.

        Once, even when the first connections come all at once (after a restart,
        every call): each would otherwise beat, and sweep, on its own.
        """
        if self.task is None or self.task.done():
            if self.starting is None or self.starting.done():
                self.starting = asyncio.ensure_future(self._start())
            # Shielded: one connection giving up must not cancel the others' start.
            await asyncio.shield(self.starting)

    async def _start(self):
        await self.beat()
        if isinstance(get_channel_layer(), InMemoryChannelLayer):
            # Only this process can be serving: what others left is dead.
            await database_sync_to_async(services.presence_sweep_other_servers)(server_id=SERVER_ID)
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
        await self.beat()
        swept = await database_sync_to_async(services.presence_sweep_dead_servers)(
            timeout=dt.timedelta(seconds=self.STALE_AFTER)
        )
        layer = get_channel_layer()
        for user_id, presence_id, others in swept:
            for channel in others:
                await layer.send(
                    channel,
                    {"type": "peer.left", "id": user_id, "pid": presence_id, "reason": "lost"},
                )


heartbeat = Heartbeat()


class NotificationConsumer(AsyncWebsocketConsumer):
    """A doctor's live notifications: a patient is waiting in one of their rooms.

    Same admission rules as the signaling socket: 4401 when not logged in,
    4403 for anyone but a doctor; closed on logout or deactivation.
    """

    groups_joined: list[str] = []
    session_key = ""

    async def connect(self):
        await self.accept()
        user = self.scope.get("user")
        session = self.scope.get("session")
        if user is None or not user.is_authenticated or not user.is_active:
            return await self.close(CLOSE_NOT_LOGGED_IN)
        # AuthMiddleware has loaded the session to find the user: reading its
        # clock here touches no database.
        if session is not None and session_is_expired(session):
            return await self.close(CLOSE_NOT_LOGGED_IN)
        if user.role != Role.DOCTOR:
            return await self.close(CLOSE_FORBIDDEN)
        self.groups_joined = [services.notify_group(user.pk), services.user_group(user.pk)]
        self.session_key = (session.session_key if session is not None else "") or ""
        if self.session_key:
            self.groups_joined.append(services.session_group(self.session_key))
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
        # A password change keeps the session that changed it signed in.
        if self.session_key and self.session_key in event.get("keep_sessions", ()):
            return
        await self.close(CLOSE_NOT_LOGGED_IN)
