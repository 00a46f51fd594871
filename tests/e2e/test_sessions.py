"""The idle warning in a real browser: it appears, "Continuar conectado" keeps the
session, an ignored warning ends on the login page, and a call keeps the session alive.

The page's clock is Playwright's (fast-forwarded); the server's is moved back by
editing the session's stored activity time.
"""

import time

import pytest
from django.contrib.sessions.backends.db import SessionStore

from accounts.middleware import ACTIVE_AT
from accounts.tests.factories import PASSWORD, DoctorFactory

from .helpers import WIDTHS, Visit, check_page, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The page checks the session 2 minutes before its 30 minutes are up.
BEFORE_THE_WARNING = "28:01"
WARNING_SHOWN = "document.getElementById('session-timeout').classList.contains('show')"


@pytest.fixture
def ana(db):
    return DoctorFactory(first_name="Ana", last_name="Souza", email="ana.sessao@clinica.test")


def _signed_in(browser, server, viewport, email):
    visit = Visit(browser, server, viewport)
    visit.page.clock.install()
    visit.login(email, PASSWORD)
    visit.goto("/")
    return visit


def _session(visit) -> SessionStore:
    key = next(c["value"] for c in visit.context.cookies() if c["name"] == "sessionid")
    return SessionStore(session_key=key)


def _seconds_since_server_activity(visit, *, within: float = 10) -> float:
    """How long ago the server last counted activity, waiting up to `within` seconds
    for it to become recent: the page hides the warning before its POST is answered."""
    deadline = time.monotonic() + within
    while True:
        idle = time.time() - _session(visit)[ACTIVE_AT]
        if idle <= within or time.monotonic() > deadline:
            return idle
        time.sleep(0.1)


def _server_idle_for(visit, seconds: int) -> None:
    session = _session(visit)
    session[ACTIVE_AT] = int(time.time()) - seconds
    session.save()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_warning_appears_and_continuar_conectado_keeps_the_session(
    browser, daphne_server, ana, width
):
    visit = _signed_in(browser, daphne_server, WIDTHS[width], ana.email)
    try:
        _server_idle_for(visit, 28 * 60 + 30)  # 90 seconds left on the server

        visit.page.clock.fast_forward(BEFORE_THE_WARNING)
        wait_until(visit.page, WARNING_SHOWN)

        dialog = visit.page.locator("#session-timeout")
        assert "Você ainda está aí?" in dialog.inner_text()
        assert "Continuar conectado" in dialog.inner_text()
        check_page(visit, "session-warning", width)

        visit.page.click("#session-timeout [data-keepalive]")
        wait_until(visit.page, f"!({WARNING_SHOWN})")
        assert _seconds_since_server_activity(visit) < 10
    finally:
        visit.close()
    assert not daphne_server.errors(), daphne_server.errors()


def test_an_ignored_warning_ends_on_the_login_page_with_the_reason(browser, daphne_server, ana):
    visit = _signed_in(browser, daphne_server, WIDTHS["1440"], ana.email)
    try:
        _server_idle_for(visit, 31 * 60)

        visit.page.clock.fast_forward(BEFORE_THE_WARNING)
        visit.page.wait_for_url("**/accounts/login/?next=%2F")
        visit.settle()

        assert "Sua sessão expirou por inatividade" in visit.page.inner_text("main")
        assert "_auth_user_id" not in _session(visit)
    finally:
        visit.close()


def test_a_call_in_progress_keeps_the_session_alive_without_a_warning(browser, daphne_server, ana):
    visit = _signed_in(browser, daphne_server, WIDTHS["1440"], ana.email)
    try:
        # What call.js sets while the call is up.
        visit.page.evaluate("() => document.body.classList.add('in-call')")
        _server_idle_for(visit, 28 * 60 + 30)

        visit.page.clock.fast_forward(BEFORE_THE_WARNING)

        assert _seconds_since_server_activity(visit) < 10
        assert not visit.page.evaluate(f"() => {WARNING_SHOWN}")
    finally:
        visit.close()
