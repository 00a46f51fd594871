"""The session engine (accounts.sessions): Django's database sessions, read in one query."""

import datetime as dt

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.sessions import SessionStore


def saved(data) -> str:
    session = SessionStore()
    session.update(data)
    session.save()
    return session.session_key


def test_the_project_uses_it(db):
    assert settings.SESSION_ENGINE == "accounts.sessions"


def test_a_session_reads_back_what_was_saved_in_one_query(db):
    key = saved({"_auth_user_id": "7", "cart": [1, 2], "name": "Maria D'Ajuda"})

    with CaptureQueriesContext(connection) as queries:
        data = SessionStore(key).load()

    assert data == {"_auth_user_id": "7", "cart": [1, 2], "name": "Maria D'Ajuda"}
    # What Django's own store reads from the same row:
    assert data == DjangoSessionStore(key).load()
    assert len(queries.captured_queries) == 1


def test_an_expired_session_is_empty_and_saving_it_gives_a_new_key(db):
    key = saved({"_auth_user_id": "7"})
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))

    session = SessionStore(key)
    assert session.load() == {}
    assert session.session_key is None
    session["x"] = 1
    session.save()
    assert session.session_key not in (None, key)


def test_an_unknown_or_tampered_session_is_empty(db):
    assert SessionStore("nosuchkey" * 4).load() == {}
    key = saved({"_auth_user_id": "7"})
    Session.objects.filter(pk=key).update(session_data="forged:data")
    assert SessionStore(key).load() == {}


def test_a_logged_in_client_stays_logged_in(client, doctor):
    client.force_login(doctor)
    assert client.get("/").status_code == 200
    assert SessionStore(client.session.session_key).load()["_auth_user_id"] == str(doctor.pk)
