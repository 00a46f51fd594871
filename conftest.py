"""Fixtures shared by every app's tests: one user per role."""

import pytest

from accounts.tests.factories import AdminFactory, DoctorFactory, PatientFactory


@pytest.fixture(autouse=True)
def _async_unsafe_only_in_browser_tests(request, monkeypatch):
    """Playwright's sync API keeps an event loop in the test's thread, so Django
    would refuse the ORM calls a browser test makes between steps. Allow them
    there only: elsewhere the variable must not leak (the deploy check rejects it)."""
    if request.node.get_closest_marker("browser"):
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    else:
        monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)


@pytest.fixture(autouse=True)
def _in_memory_channel_layer(request, settings):
    """In-process tests use the in-memory layer: a Redis layer's connections are
    bound to one event loop, and every async test has its own. The Redis layer
    is exercised by the tests that run real server processes (marker `live`)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def _fast_tests(request, settings, tmp_path):
    # Argon2 is deliberately slow; tests that check hashing ask for it explicitly.
    # Browser tests keep the real hashers: the server in the other process checks them.
    if not request.node.get_closest_marker("browser"):
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "private", "base_url": None},
        },
    }


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's language. A test-client request leaves the
    language it negotiated active in the thread, so without this a message's
    language would depend on which test ran before (and on how xdist splits them)."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Counters kept in the cache (photo uploads per person) start at zero in each
    test: rolled-back users' ids are reused, so a count would leak into the next test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_closing_guards():
    """Transactional tests end with a flush, which on SQLite is a DELETE of every
    table: the one test-only path allowed past the closing events' triggers
    (closings/guards.py). PostgreSQL's flush is a TRUNCATE, which they let by."""
    from django.db import connection

    from closings import guards

    if connection.vendor != "sqlite":
        yield
        return
    DatabaseOperations = type(connection.ops)  # noqa: N806 - the class being patched
    original = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with guards.lifted():
            return original(self, sql_list)

    DatabaseOperations.execute_sql_flush = execute_sql_flush
    yield
    DatabaseOperations.execute_sql_flush = original


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On PostgreSQL, drop the connections that worker threads (sync_to_async, the race
    tests) leave open, so the test database can be dropped when the session ends."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def admin_user(db):
    return AdminFactory(first_name="Alice", last_name="Administradora")


@pytest.fixture
def doctor(db):
    return DoctorFactory(first_name="Ana", last_name="Souza", profile__title="dra")


@pytest.fixture
def other_doctor(db):
    return DoctorFactory(first_name="Bruno", last_name="Lima", profile__title="dr")


@pytest.fixture
def patient(db, doctor):
    return PatientFactory(first_name="Carlos", last_name="Pereira", doctor=doctor)


@pytest.fixture
def other_patient(db, other_doctor):
    return PatientFactory(first_name="Daniela", last_name="Costa", doctor=other_doctor)


@pytest.fixture
def consented_patient(patient):
    from rooms.tests.factories import ConsentFactory

    ConsentFactory(patient=patient)
    return patient


@pytest.fixture
def room(db, doctor, consented_patient):
    from rooms.models import Room
    from rooms.tests.factories import RoomFactory

    created = RoomFactory(doctor=doctor, patient=consented_patient)
    # Loaded with its people, so async tests can read room.doctor without a query.
    return Room.objects.select_related("doctor__doctor_profile", "patient__patient_profile").get(
        pk=created.pk
    )
