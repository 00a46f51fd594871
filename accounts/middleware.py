"""Sessions that end, and signed-in pages that the browser does not keep.

A clinic computer is shared. A session ends after SESSION_IDLE_TIMEOUT_MINUTES
without a request and, whatever the activity, SESSION_MAX_AGE_HOURS after
signing in. Both clocks live in the session itself, so the WebSocket consumer
applies the same rule at admission with `session_is_expired(scope["session"])`.
"""

import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

LOGIN_AT = "mc_login_at"
ACTIVE_AT = "mc_active_at"
# Saving the session on every request would cost a database write per page;
# a minute's precision on a thirty-minute timer is plenty.
TOUCH_EVERY_SECONDS = 60

CLEAR_ON_LOGOUT = '"cache", "cookies", "storage"'
# On expiry the old session is already gone on the server; the cookies stay,
# since the new one carries the "your session expired" message to the login page.
CLEAR_ON_EXPIRY = '"cache", "storage"'


def _now() -> int:
    return int(time.time())


def session_expires_in(session, *, now: int | None = None) -> int | None:
    """Seconds before the session ends (idle or absolute), or None if it has no clock yet."""
    login_at = session.get(LOGIN_AT)
    if login_at is None:
        return None
    active_at = session.get(ACTIVE_AT, login_at)
    now = _now() if now is None else now
    idle_left = active_at + settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 - now
    absolute_left = login_at + settings.SESSION_MAX_AGE_HOURS * 3600 - now
    return int(min(idle_left, absolute_left))


def session_is_expired(session) -> bool:
    """True when a signed-in session has been idle too long or is too old.

    Reads the session (a database query the first time): from async code, call
    it through `database_sync_to_async`.
    """
    left = session_expires_in(session)
    return left is not None and left <= 0


def session_touch(session, *, force: bool = False) -> None:
    """Count a request as activity (written at most once a minute unless forced)."""
    now = _now()
    if force or now - session.get(ACTIVE_AT, 0) >= TOUCH_EVERY_SECONDS:
        session[ACTIVE_AT] = now


def _start_clock(session) -> None:
    now = _now()
    session[LOGIN_AT] = now
    session[ACTIVE_AT] = now


def _counts_as_activity(view_func) -> bool:
    """Views opt out with `session_activity = False` (the warning's status check)."""
    owner = getattr(view_func, "view_class", view_func)
    return getattr(owner, "session_activity", True)


class SessionTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = request.session
        key_before = session.session_key
        if SESSION_KEY in session and session_is_expired(session):
            self._expire(request)
        response = self.get_response(request)
        # A login (or a password change) cycles the session key: a new clock.
        if SESSION_KEY in request.session and request.session.session_key != key_before:
            _start_clock(request.session)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        session = request.session
        if SESSION_KEY not in session:
            return
        if LOGIN_AT not in session:
            # A session from before this middleware: its clock starts now.
            _start_clock(session)
        elif _counts_as_activity(view_func):
            session_touch(session)
        # Read by the idle warning's markup (includes/_session_timeout.html).
        request.session_clock = {
            "expires_in": session_expires_in(session),
            "warn_seconds": settings.SESSION_IDLE_WARNING_MINUTES * 60,
        }

    def _expire(self, request):
        idle = (
            request.session.get(ACTIVE_AT, 0) + (settings.SESSION_IDLE_TIMEOUT_MINUTES * 60)
            <= _now()
        )
        try:
            # Sends user_logged_out, on which rooms closes this session's sockets.
            logout(request)
        except Exception:
            # The channel layer may be down: the session ends all the same.
            logger.exception("Closing the sockets of an expired session failed")
            request.session.flush()
            request.user = AnonymousUser()
        request.session_expired = True
        if idle:
            message = _("Your session expired after a period of inactivity. Please sign in again.")
        else:
            message = _(
                "For your security, a session lasts at most %(hours)s hours. Please sign in again."
            ) % {"hours": f"{settings.SESSION_MAX_AGE_HOURS:g}"}
        messages.info(request, message)


class PrivatePagesMiddleware:
    """Signed-in responses are never stored; signing out clears what the browser kept.

    The next person at a shared computer must not find a patient's page with
    the Back button. Static files are served before this runs and keep their
    long cache; responses that set their own Cache-Control (a photo, private
    for an hour) keep it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        signed_in_before = SESSION_KEY in request.session
        response = self.get_response(request)
        signed_in_after = SESSION_KEY in request.session
        if (signed_in_before or signed_in_after) and "Cache-Control" not in response:
            response["Cache-Control"] = "no-store, private"
        if signed_in_before and not signed_in_after:
            expired = getattr(request, "session_expired", False)
            response["Clear-Site-Data"] = CLEAR_ON_EXPIRY if expired else CLEAR_ON_LOGOUT
        return response
