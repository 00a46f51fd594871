"""Admission to a call: who is asking, the room, and their presence, in one trip.

Every signaling socket runs this once, on the one database thread, and after
a server restart every call runs it at once: the time it takes is how long the
calls stay frozen. Written with the ORM it cost 3.0 ms of CPU per admission on
our 2-core machine, in seven statements, 6 % of it in SQLite and the rest
building and compiling the querysets and the models they return. So its
statements are written out here, once, as plain SQL both engines run, and the
models are built from their rows with `Model.from_db`: 0.5 ms, in five
statements, with the session engine's own written-out read (accounts/sessions.py).
Everything else that touches these tables goes through the ORM.

The user is not read on their own either: the room's row comes with both of
its participants, and django.contrib.auth.get_user's rules (the backend, the
user allowed to sign in, the session hash and its fallbacks) are applied to
that copy. Only a refusal that has to tell "not signed in" from "not yours"
asks Django for the user the usual way.
"""

import enum
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.middleware import session_is_expired
from accounts.models import DoctorProfile, Role, User

from . import consent, services
from .models import Presence, Room, RoomStatus


class Refusal(enum.Enum):
    NOT_LOGGED_IN = "not-logged-in"
    NO_ROOM = "no-room"
    FORBIDDEN = "forbidden"
    ENDED = "ended"


@dataclass
class Join:
    """A connection recorded as present.

    `presence_id` is the new row's primary key. Rows are never updated into
    another connection: each connection gets a new row, and ids only grow, so
    the id orders a user's connections to a room (a generation number).
    """

    room: Room
    user: User
    presence_id: int
    peers: list[Presence] = field(default_factory=list)
    replaced_channel: str = ""
    replaced_id: int | None = None
    call_started: bool = False


# What a participant's copy carries: what the call shows of them, and what the
# session hash is made of (the password). Their dates stay deferred. In the
# model's order, as Model.from_db takes the values of a partial row.
_CARRIED = {"id", "password", "email", "first_name", "last_name", "role", "photo", "is_active"}
_USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields if f.attname in _CARRIED)


def _columns(alias: str) -> str:
    return ", ".join(f"{alias}.{name}" for name in _USER_FIELDS)


# Column names come from the model; every value is a parameter.
_ROOM = f"""
    SELECT r.id, r.code, r.doctor_id, r.patient_id, r.status,
           r.both_present_since IS NULL, r.call_started_at IS NULL,
           EXISTS (SELECT 1 FROM rooms_telemedicineconsent c
                   WHERE c.patient_id = r.patient_id AND c.version = %s),
           dp.id, dp.title, {_columns("d")}, {_columns("p")}
    FROM rooms_room r
    JOIN accounts_user d ON d.id = r.doctor_id
    JOIN accounts_user p ON p.id = r.patient_id
    LEFT JOIN accounts_doctorprofile dp ON dp.user_id = r.doctor_id
    WHERE r.code = %s
"""  # noqa: S608
# On PostgreSQL the room's row only: the people stay unlocked. SQLite has no
# row locks; its transactions take the write lock at BEGIN (IMMEDIATE).
_ROOM_LOCKED = {"postgresql": _ROOM + " FOR UPDATE OF r"}
_PRESENT = "SELECT id, user_id, channel_name, audio, video FROM rooms_presence WHERE room_id = %s"
_DROP = "DELETE FROM rooms_presence WHERE id = %s"
_INSERT = """
    INSERT INTO rooms_presence
        (room_id, user_id, channel_name, session_key, server_id, audio, video, connected_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    RETURNING id
"""
_TOUCH = "UPDATE rooms_room SET last_activity_at = %s WHERE id = %s"
_MEET = """
    UPDATE rooms_room
    SET last_activity_at = %s, both_present_since = %s,
        call_started_at = COALESCE(call_started_at, %s)
    WHERE id = %s
"""


@dataclass
class _Booked:
    """The room as admission reads it."""

    room: Room
    people: dict[int, User]  # the doctor and the patient, by id
    consented: bool  # the patient accepted the term in force
    apart: bool  # nobody's overlap clock runs (both_present_since is empty)
    never_met: bool  # the call has not started yet


def admit(session, code: str, channel_name: str, *, server_id: str, beat: bool) -> Refusal | Join:
    """Admit the session's user to the room `code` and record them present (the newest wins).

    Returns a Refusal, or a Join. One transaction: the room is locked from its
    read to the presence written, so two connections of one user, or both
    participants at once, are settled in order. `beat` also writes this
    process's heartbeat row, which the presence points at.
    """
    claim = _claim(session)
    if claim is None:
        return Refusal.NOT_LOGGED_IN
    claimed_id, backend = claim
    with transaction.atomic():
        booked = _read_room(code)
        if booked is None:
            return Refusal.NOT_LOGGED_IN if _session_user(session) is None else Refusal.NO_ROOM
        people = booked.people
        user = people.get(claimed_id)
        if user is None or type(backend).get_user is not ModelBackend.get_user:
            # Not a participant (or signed in by a backend whose get_user is
            # its own): Django's lookup tells who is asking.
            asking = _session_user(session)
            if asking is None:
                return Refusal.NOT_LOGGED_IN
            user = people.get(asking.pk)
            if user is None:
                return Refusal.FORBIDDEN
        elif not _signed_in(session, user, backend):
            return Refusal.NOT_LOGGED_IN
        if user.role == Role.ADMIN:
            return Refusal.FORBIDDEN
        if booked.room.status != RoomStatus.OPEN:
            return Refusal.ENDED
        if user.role == Role.PATIENT and not booked.consented:
            # The call cannot start before the patient accepted the telemedicine term.
            return Refusal.FORBIDDEN
        if beat:
            services.server_beat(server_id=server_id)
        return _join(
            booked,
            user,
            channel_name=channel_name,
            server_id=server_id,
            session_key=session.session_key or "",
        )


def _claim(session):
    """(user id, backend) a signed-in session names, or None.

    get_user's first rules: the keys are there and the backend is still configured.
    """
    if session is None:
        return None
    try:
        user_id = User._meta.pk.to_python(session[auth.SESSION_KEY])
        backend_path = session[auth.BACKEND_SESSION_KEY]
    except (KeyError, ValidationError):
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    return user_id, auth.load_backend(backend_path)


def _signed_in(session, user, backend) -> bool:
    """get_user's remaining rules, for the room's copy of the user the session names.

    One difference: a session verified by a fallback secret is not given a new
    key here, since a socket cannot hand the browser a new cookie (the old key
    would be gone and the pages signed out). The next page the browser loads
    rotates it, through Django's own get_user.
    """
    if not backend.user_can_authenticate(user):
        return False
    session_hash = session.get(auth.HASH_SESSION_KEY)
    verified = bool(session_hash) and (
        constant_time_compare(session_hash, user.get_session_auth_hash())
        or any(
            constant_time_compare(session_hash, fallback)
            for fallback in user.get_session_auth_fallback_hash()
        )
    )
    if not verified:
        session.flush()  # as get_user: the password changed, this session is over
        return False
    return not session_is_expired(session)


def _session_user(session):
    """The signed-in, active user of a session whose timeouts have not run out, or None.

    django.contrib.auth.get_user itself, as Channels' AuthMiddleware applies
    it, then the idle and absolute timeouts the HTTP pages apply (accounts.middleware).
    """
    user = auth.get_user(_SessionOnly(session))
    if not user.is_authenticated or not user.is_active or session_is_expired(session):
        return None
    return user


class _SessionOnly:
    """What django.contrib.auth.get_user reads from a request: its session."""

    def __init__(self, session):
        self.session = session


def _person(values) -> User:
    return User.from_db(connection.alias, _USER_FIELDS, values)


def _read_room(code) -> _Booked | None:
    """The room `code`, locked for the join, with its participants; or None."""
    with connection.cursor() as cursor:
        cursor.execute(_ROOM_LOCKED.get(connection.vendor, _ROOM), [consent.TERM_VERSION, code])
        row = cursor.fetchone()
    if row is None:
        return None
    width = len(_USER_FIELDS)
    room_id, code, doctor_id, patient_id, status, apart, never_met, consented = row[:8]
    profile_id, title = row[8:10]
    doctor, patient = _person(row[10 : 10 + width]), _person(row[10 + width :])
    # Cached either way, as select_related caches it: display_name reads it in
    # the consumer's event loop, where a query is not allowed.
    User.doctor_profile.related.set_cached_value(
        doctor,
        None
        if profile_id is None
        else DoctorProfile.from_db(
            connection.alias, ("id", "user_id", "title"), (profile_id, doctor_id, title)
        ),
    )
    room = Room.from_db(
        connection.alias,
        ("id", "code", "doctor_id", "patient_id", "status"),
        (room_id, code, doctor_id, patient_id, status),
    )
    room.doctor, room.patient = doctor, patient
    return _Booked(
        room=room,
        people={doctor_id: doctor, patient_id: patient},
        consented=bool(consented),
        apart=bool(apart),
        never_met=bool(never_met),
    )


def _join(booked: _Booked, user, *, channel_name, server_id, session_key) -> Join:
    """Record the connection; the newest of a user's connections replaces the older."""
    room = booked.room
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_PRESENT, [room.pk])
        present = [
            Presence.from_db(
                connection.alias,
                ("id", "user_id", "channel_name", "audio", "video"),
                (pk, user_id, channel, audio, video),
            )
            for pk, user_id, channel, audio, video in cursor.fetchall()
        ]
        previous = next((p for p in present if p.user_id == user.pk), None)
        peers = [p for p in present if p.user_id != user.pk]
        for peer in peers:
            peer.user = booked.people[peer.user_id]
        if previous:
            cursor.execute(_DROP, [previous.pk])
        cursor.execute(
            _INSERT, [room.pk, user.pk, channel_name, session_key, server_id, True, True, at]
        )
        (presence_id,) = cursor.fetchone()
        # Both present: the overlap clock starts, and the call with it the first time.
        meeting = bool(peers) and booked.apart
        if meeting:
            cursor.execute(_MEET, [at, at, at, room.pk])
        else:
            cursor.execute(_TOUCH, [at, room.pk])
    return Join(
        room=room,
        user=user,
        presence_id=presence_id,
        peers=peers,
        replaced_channel=previous.channel_name if previous else "",
        replaced_id=previous.pk if previous else None,
        call_started=meeting and booked.never_met,
    )
