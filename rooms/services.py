"""Rooms, presence and the end of a consultation. Every state change is here."""

import asyncio
import datetime as dt
import logging
import secrets

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from . import consent
from .models import CallSample, Presence, Room, RoomStatus, ServerInstance, TelemedicineConsent
from .permissions import can_open_room_for
from .signals import consultation_finished

logger = logging.getLogger(__name__)

# No 0/o, 1/l/i: a code read aloud or typed from a phone screen stays unambiguous.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 12  # 31**12 ≈ 7.9e17 codes: not guessable, not enumerable


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def session_group(session_key: str) -> str:
    return f"session.{session_key}"


def notify_group(user_id: int) -> str:
    return f"notify.{user_id}"


def room_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def room_create(*, doctor: User, patient: User) -> Room:
    """The room for a consultation of this doctor with this patient: the one already
    open, or a new one.

    A second click, a second tab or a second device must not give the patient
    another link: doctor and patient would wait in different rooms. Two
    requests at once are settled by the constraint rooms_one_open_room_per_pair:
    the loser finds the winner's room.
    """
    if not can_open_room_for(doctor, patient):
        raise ValidationError(
            _("You can only open rooms for your own active patients."), code="not-your-patient"
        )
    pair_open = Room.objects.filter(doctor=doctor, patient=patient, status=RoomStatus.OPEN)
    for _attempt in range(5):
        room = pair_open.first()
        if room is not None:
            return room
        try:
            with transaction.atomic():
                return Room.objects.create(code=room_code(), doctor=doctor, patient=patient)
        except IntegrityError:
            if not pair_open.exists():
                logger.warning("Room code collision; drawing another code")
    raise RuntimeError("Could not draw a free room code")


def _close_overlap(room: Room, now: dt.datetime) -> list[str]:
    """Add the time both were present until now; returns the fields changed."""
    if room.both_present_since is None:
        return []
    room.both_present_seconds += max(0, int((now - room.both_present_since).total_seconds()))
    room.both_present_since = None
    return ["both_present_seconds", "both_present_since"]


# How long telling sockets may hold up the request that tells them (a logout):
# an unreachable Redis must not turn a logout into a hanging page.
LAYER_SEND_TIMEOUT = 3.0


def _send_to_group(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(asyncio.wait_for)(layer.group_send(group, message), LAYER_SEND_TIMEOUT)


def _send_to_channels(channels: list[str], message: dict) -> None:
    """Direct sends to the sockets named in Presence rows.

    Presence in the database is the room's membership list, so the signaling
    sockets join no channel-layer group: the in-memory layer walks every group
    on every receive, and a direct send is what a relay costs at least.
    """
    layer = get_channel_layer()
    if layer is None or not channels:
        return

    async def send_all():
        for channel in channels:
            await layer.send(channel, message)

    async_to_sync(asyncio.wait_for)(send_all(), LAYER_SEND_TIMEOUT)


def room_finalize(*, room: Room, by: User | None, at: dt.datetime | None = None) -> bool:
    """End the consultation. Acts once, however often or concurrently it is asked.

    A conditional UPDATE decides the winner: only the request that moves the
    row from open to ended goes on (select_for_update would not help on
    SQLite). The winner records the times, sends `consultation_finished` in
    the same transaction (billing registers the consultation there) and, once
    committed, tells everyone connected. Returns whether this call ended it.
    `at` is when it ended, if not now (a stale room ended at its last activity).
    """
    now = at or timezone.now()
    with transaction.atomic():
        won = Room.objects.filter(pk=room.pk, status=RoomStatus.OPEN).update(
            status=RoomStatus.ENDED, ended_at=now, ended_by=by, last_activity_at=now
        )
        if not won:
            return False
        room = Room.objects.select_related("doctor", "patient").get(pk=room.pk)
        changed = _close_overlap(room, now)
        if changed:
            room.save(update_fields=changed)
        present = Presence.objects.filter(room=room)
        channels = list(present.values_list("channel_name", flat=True))
        present.delete()
        consultation_finished.send(sender=Room, room=room)
        message = {
            "type": "room.ended",
            "by": {"id": by.pk, "name": by.display_name} if by else None,
            "at": timezone.localtime(now).isoformat(),
        }
        transaction.on_commit(lambda: _send_to_channels(channels, message))
    return True


def rooms_finalize_stale(*, idle_for: dt.timedelta) -> int:
    """Finalize open rooms with nobody present and no activity for `idle_for`."""
    cutoff = timezone.now() - idle_for
    stale = Room.objects.filter(status=RoomStatus.OPEN, last_activity_at__lt=cutoff).exclude(
        presences__isnull=False
    )
    # A stale room ended when it last saw activity: a consultation held on
    # 31 October and swept on 1 November belongs to October (and its closing).
    return sum(room_finalize(room=room, by=None, at=room.last_activity_at) for room in stale)


# --- Presence ---------------------------------------------------------------
# Joining is rooms.admission: the socket's one trip, in written-out SQL.


def server_beat(*, server_id: str) -> None:
    now = timezone.now()
    updated = ServerInstance.objects.filter(pk=server_id).update(last_beat_at=now)
    if not updated:
        ServerInstance.objects.create(id=server_id, started_at=now, last_beat_at=now)


@transaction.atomic
def presence_leave(*, room_id: int, user_id: int, channel_name: str) -> list[str] | None:
    """Forget a connection; the channels still in the room, to tell them.

    None when the connection was already replaced or swept (nobody to tell).
    """
    deleted, _detail = Presence.objects.filter(
        room_id=room_id, user_id=user_id, channel_name=channel_name
    ).delete()
    if not deleted:
        return None
    room = Room.objects.select_for_update().get(pk=room_id)
    now = timezone.now()
    room.last_activity_at = now
    room.save(update_fields=["last_activity_at", *_close_overlap(room, now)])
    return list(Presence.objects.filter(room_id=room_id).values_list("channel_name", flat=True))


def presence_set_media(*, channel_name: str, audio: bool, video: bool) -> None:
    Presence.objects.filter(channel_name=channel_name).update(audio=audio, video=video)


def presence_sweep_dead_servers(*, timeout: dt.timedelta) -> list[tuple[int, int, list[str]]]:
    """Drop presences held by processes whose heartbeat stopped.

    Returns (user id, presence id, channels still in that room) for each
    participant dropped.
    """
    cutoff = timezone.now() - timeout
    dead = ServerInstance.objects.filter(last_beat_at__lt=cutoff)
    swept = []
    for presence in Presence.objects.filter(server__in=dead):
        others = presence_leave(
            room_id=presence.room_id, user_id=presence.user_id, channel_name=presence.channel_name
        )
        if others is not None:
            swept.append((presence.user_id, presence.pk, others))
    ServerInstance.objects.filter(last_beat_at__lt=cutoff).exclude(
        pk__in=Presence.objects.values("server_id")
    ).delete()
    return swept


def presence_sweep_other_servers(*, server_id: str) -> int:
    """Drop at once every presence held by a process other than `server_id`.

    For a channel layer that lives in one process (the in-memory layer, when
    no Redis is configured), where no other process's sockets can be reached:
    whatever another process left behind (it was killed, or crashed) is gone,
    and need not wait for its heartbeat to go stale. Otherwise the first of a
    room's participants to reconnect would announce themselves to a socket
    that no longer exists. One pass, however many rooms: it runs when calls
    come back after a restart. Returns the number of presences dropped.
    """
    now = timezone.now()
    with transaction.atomic():
        stale = Presence.objects.exclude(server_id=server_id)
        rooms = list(
            Room.objects.select_for_update().filter(
                pk__in=stale.values("room_id"), both_present_since__isnull=False
            )
        )
        for room in rooms:
            _close_overlap(room, now)
        Room.objects.bulk_update(rooms, ["both_present_seconds", "both_present_since"])
        Room.objects.filter(pk__in=stale.values("room_id")).update(last_activity_at=now)
        dropped, _detail = stale.delete()
        ServerInstance.objects.exclude(pk=server_id).delete()
    return dropped


def call_sample_record(*, room_id: int, user: User, sample: dict) -> None:
    CallSample.objects.create(room_id=room_id, user=user, **sample)
    Room.objects.filter(pk=room_id).update(last_activity_at=timezone.now())


# --- Consent ----------------------------------------------------------------


def _consents_in_force(patient: User):
    """Acceptances of the term in force: the one place that says which consent counts."""
    return TelemedicineConsent.objects.filter(patient=patient, version=consent.TERM_VERSION)


def consent_current(*, patient: User) -> TelemedicineConsent | None:
    return _consents_in_force(patient).order_by("-accepted_at").first()


def consent_given(*, patient: User) -> bool:
    """Whether the patient accepted the current term: the admission check, without loading it."""
    return _consents_in_force(patient).exists()


def consent_accept(
    *, patient: User, ip_address: str | None, user_agent: str
) -> TelemedicineConsent:
    """Store the patient's acceptance of the current term, with its hash, time, IP and browser."""
    existing = consent_current(patient=patient)
    if existing:
        return existing
    try:
        with transaction.atomic():
            return TelemedicineConsent.objects.create(
                patient=patient,
                version=consent.TERM_VERSION,
                text_hash=consent.term_hash(),
                accepted_at=timezone.now(),
                ip_address=ip_address or None,
                user_agent=(user_agent or "")[:500],
            )
    except IntegrityError:
        # A double click: the other request stored it first.
        return consent_current(patient=patient)


def access_revoke(
    *, user_id: int, session_key: str = "", keep_session_key: str = "", renamed_to: str = ""
) -> None:
    """Close the sockets of a session (logout), of a user (deactivated, role
    changed), or of every session of a user but one (`keep_session_key`: the
    password changed, and only the session that changed it stays signed in).

    Call sockets are found through their Presence rows; the doctor's
    notification socket listens on the session and user groups. Django gives
    the kept session a new key (`renamed_to`); its sockets' rows follow, so a
    later logout still finds them.

    Telling the sockets is best effort: with the channel layer unreachable the
    caller (a logout) must still succeed, so a failure is logged, not raised.
    """
    present = Presence.objects.filter(user_id=user_id)
    if session_key:
        present = present.filter(session_key=session_key)
    if keep_session_key:
        kept = Presence.objects.filter(user_id=user_id, session_key=keep_session_key)
        if renamed_to:
            kept.update(session_key=renamed_to)
        present = present.exclude(session_key__in=[keep_session_key, renamed_to])
    channels = list(present.values_list("channel_name", flat=True))
    group = session_group(session_key) if session_key else user_group(user_id)
    # The notification socket checks this itself: it joined the group with the old key.
    keep = [key for key in (keep_session_key, renamed_to) if key]
    message = {"type": "access.revoked", "keep_sessions": keep}
    try:
        _send_to_channels(channels, message)
        _send_to_group(group, message)
    except Exception:  # noqa: BLE001 - Redis down, a timeout...: the sockets are told later or never
        logger.warning("Could not tell the sockets of user %s to close", user_id, exc_info=True)
