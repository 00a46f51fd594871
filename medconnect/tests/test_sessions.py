"""Sessions end (idle timeout, absolute lifetime) and signed-in pages are not kept by the browser.

Time travels by editing the clock stored in the session, never by sleeping.
"""

import asyncio
import re
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings as django_settings

from accounts.middleware import (
    ACTIVE_AT,
    LOGIN_AT,
    session_expires_in,
    session_is_expired,
)
from accounts.tests.factories import PASSWORD
from medconnect import settings as project_settings
from rooms.services import session_group

SESSION_URL = "/session/"
MINUTE = 60
HOUR = 3600


def _signed_in(client, user):
    """Sign in and make one request, so the session's clock is running."""
    client.force_login(user)
    assert client.get("/").status_code == 200
    return client


def _shift(client, **seconds_ago):
    """Move the session's clock back: login=..., active=... seconds."""
    session = client.session
    now = int(time.time())
    if "login" in seconds_ago:
        session[LOGIN_AT] = now - seconds_ago["login"]
    if "active" in seconds_ago:
        session[ACTIVE_AT] = now - seconds_ago["active"]
    session.save()


# --- Settings ------------------------------------------------------------------------


def test_the_defaults_are_a_30_minute_idle_timeout_and_a_12_hour_lifetime():
    assert project_settings.SESSION_IDLE_TIMEOUT_MINUTES == 30
    assert project_settings.SESSION_MAX_AGE_HOURS == 12
    # The cookie does not outlive the session it carries (Django's default is 14 days).
    assert project_settings.SESSION_COOKIE_AGE == 12 * HOUR


# --- Idle timeout ----------------------------------------------------------------------


def test_a_session_idle_for_31_minutes_ends_on_the_login_page_with_a_message(client, doctor):
    _signed_in(client, doctor)
    _shift(client, active=31 * MINUTE)

    response = client.get("/", follow=True)

    assert response.redirect_chain[0] == ("/accounts/login/?next=/", 302)
    assert "_auth_user_id" not in client.session
    html = response.content.decode()
    assert "Sua sessão expirou por inatividade" in html


def test_a_session_idle_for_29_minutes_still_works(client, doctor):
    _signed_in(client, doctor)
    _shift(client, active=29 * MINUTE)

    response = client.get("/")

    assert response.status_code == 200
    assert client.session["_auth_user_id"] == str(doctor.pk)


def test_the_idle_timeout_follows_the_setting(client, doctor, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 5
    _signed_in(client, doctor)
    _shift(client, active=6 * MINUTE)

    assert client.get("/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_each_request_restarts_the_idle_clock(client, doctor):
    _signed_in(client, doctor)
    _shift(client, active=20 * MINUTE)

    client.get("/profile/")
    _shift(client, login=20 * MINUTE)  # only the login time moves back
    response = client.get("/")

    assert response.status_code == 200
    assert time.time() - client.session[ACTIVE_AT] < 5


def test_the_activity_is_saved_at_most_once_a_minute(client, doctor):
    _signed_in(client, doctor)
    _shift(client, active=20)
    stamped = client.session[ACTIVE_AT]

    client.get("/")

    # No session write for this request: the clock keeps its value.
    assert client.session[ACTIVE_AT] == stamped


# --- Absolute lifetime ---------------------------------------------------------------


def test_an_active_session_older_than_12_hours_ends(client, doctor):
    _signed_in(client, doctor)
    _shift(client, login=12 * HOUR + MINUTE, active=10)

    response = client.get("/", follow=True)

    assert response.redirect_chain[0][1] == 302
    assert "_auth_user_id" not in client.session
    assert "uma sessão dura no máximo 12 horas" in response.content.decode()


def test_a_session_of_11_hours_with_activity_still_works(client, doctor):
    _signed_in(client, doctor)
    _shift(client, login=11 * HOUR, active=10)

    assert client.get("/").status_code == 200


def test_signing_in_starts_a_fresh_clock(client, doctor):
    response = client.post("/accounts/login/", {"username": doctor.email, "password": PASSWORD})

    assert response.status_code == 302
    session = client.session
    assert abs(time.time() - session[LOGIN_AT]) < 5
    assert abs(time.time() - session[ACTIVE_AT]) < 5


def test_session_is_expired_reads_the_clock_in_the_session(settings):
    now = int(time.time())
    assert not session_is_expired({})  # no clock yet: nothing to judge
    assert not session_is_expired({LOGIN_AT: now - HOUR, ACTIVE_AT: now - 10 * MINUTE})
    assert session_is_expired({LOGIN_AT: now - HOUR, ACTIVE_AT: now - 31 * MINUTE})
    assert session_is_expired({LOGIN_AT: now - 13 * HOUR, ACTIVE_AT: now})
    assert session_expires_in({LOGIN_AT: now, ACTIVE_AT: now}, now=now) == 30 * MINUTE


# --- Sockets of an expired session -------------------------------------------------------


def test_expiry_closes_the_sockets_of_that_session(client, doctor):
    _signed_in(client, doctor)
    session_key = client.session.session_key
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(session_group(session_key), channel)
    _shift(client, active=31 * MINUTE)

    client.get("/")

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=2)

    assert async_to_sync(receive)()["type"] == "access.revoked"


class UnreachableChannelLayer(InMemoryChannelLayer):
    """A channel layer whose server is down (Redis stopped)."""

    async def group_send(self, group, message):
        raise ConnectionRefusedError("the channel layer is down")


def test_expiry_logs_out_even_when_the_channel_layer_is_down(client, doctor, settings):
    _signed_in(client, doctor)
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": f"{__name__}.UnreachableChannelLayer"},
    }
    _shift(client, active=31 * MINUTE)

    response = client.get("/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


# --- The warning's status and keep-alive ----------------------------------------------------


def test_the_status_check_tells_the_time_left_without_counting_as_activity(client, doctor):
    _signed_in(client, doctor)
    _shift(client, active=20 * MINUTE)
    stamped = client.session[ACTIVE_AT]

    response = client.get(SESSION_URL)

    assert response.status_code == 200
    assert 9 * MINUTE < response.json()["expires_in"] <= 10 * MINUTE
    assert client.session[ACTIVE_AT] == stamped


def test_the_keepalive_restarts_the_idle_clock(client, doctor):
    _signed_in(client, doctor)
    _shift(client, active=29 * MINUTE)

    response = client.post(SESSION_URL)

    assert response.status_code == 200
    assert response.json()["expires_in"] > 29 * MINUTE
    _shift(client, login=HOUR)
    assert client.get("/").status_code == 200


def test_the_keepalive_needs_the_csrf_token(doctor):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    _signed_in(browser, doctor)
    _shift(browser, active=29 * MINUTE)
    stamped = browser.session[ACTIVE_AT]

    response = browser.post(SESSION_URL)

    assert response.status_code == 403
    assert browser.session[ACTIVE_AT] == stamped


def test_the_status_of_an_expired_session_is_401_and_it_is_logged_out(client, doctor):
    _signed_in(client, doctor)
    _shift(client, active=31 * MINUTE)

    response = client.get(SESSION_URL)

    assert response.status_code == 401
    assert response.json() == {"expired": True}
    assert "_auth_user_id" not in client.session


def test_the_keepalive_cannot_revive_an_expired_session(client, doctor):
    _signed_in(client, doctor)
    _shift(client, active=31 * MINUTE)

    assert client.post(SESSION_URL).status_code == 401
    assert client.get("/").status_code == 302


def test_anonymous_status_is_401(client, db):
    assert client.get(SESSION_URL).status_code == 401


def test_signed_in_pages_carry_the_idle_warning_in_portuguese(client, doctor):
    _signed_in(client, doctor)

    html = client.get("/").content.decode()

    assert 'id="session-timeout"' in html
    assert 'data-url="/session/"' in html
    assert f'data-warn-seconds="{django_settings.SESSION_IDLE_WARNING_MINUTES * 60}"' in html
    assert "Continuar conectado" in html
    assert re.search(r"js/session\.[0-9a-f]+\.js", html)
    # Read by JavaScript: 1799 seconds, never pt-BR's "1.799" (which Number() reads as 1.8 s).
    seconds = int(re.search(r'data-expires-in="([^"]*)"', html).group(1))
    assert 29 * 60 < seconds <= 30 * 60


def test_the_login_page_has_no_idle_warning(client, db):
    assert 'id="session-timeout"' not in client.get("/accounts/login/").content.decode()


# --- What the browser keeps ------------------------------------------------------------------


@pytest.fixture
def personal_pages(patient):
    return ["/", f"/people/patients/{patient.pk}/", "/profile/"]


def test_pages_with_personal_data_are_not_stored_by_the_browser(client, doctor, personal_pages):
    _signed_in(client, doctor)

    for path in personal_pages:
        response = client.get(path)
        assert response.status_code == 200, path
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= cache_control, path


def test_the_status_json_is_not_stored_either(client, doctor):
    _signed_in(client, doctor)

    assert "no-store" in client.get(SESSION_URL)["Cache-Control"]


def test_a_photo_keeps_its_own_private_cache(client, doctor, settings):
    from django.core.files.base import ContentFile

    doctor.photo.save("p.webp", ContentFile(b"RIFF...."), save=True)
    _signed_in(client, doctor)

    response = client.get(f"/people/{doctor.pk}/photo/")

    assert response["Cache-Control"] == "private, max-age=3600"


def test_logout_tells_the_browser_to_clear_what_it_kept(client, doctor):
    _signed_in(client, doctor)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cache", "cookies", "storage"'


def test_an_expired_session_clears_the_cache_and_storage_too(client, doctor):
    _signed_in(client, doctor)
    _shift(client, active=31 * MINUTE)

    response = client.get("/")

    assert response["Clear-Site-Data"] == '"cache", "storage"'


def test_ordinary_responses_do_not_clear_anything(client, doctor):
    _signed_in(client, doctor)

    assert "Clear-Site-Data" not in client.get("/")
    assert "Clear-Site-Data" not in client.get("/accounts/login/")
