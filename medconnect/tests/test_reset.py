"""The database reset (medconnect.reset): what goes, what stays, the backup, the guards.

On both engines; the parts that differ (SQLite's file copy and triggers,
PostgreSQL's pg_dump and disabled triggers) branch on the connection's vendor.
"""

import asyncio
import datetime as dt
import json
import os
import re
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Role, User
from accounts.tests.factories import PASSWORD, AdminFactory, DoctorFactory, PatientFactory
from billing.models import DEFAULT_FEE, DEFAULT_PERCENTAGE, BillingSettings
from clinical import services as clinical_services
from clinical.models import Evolution, EvolutionRevision
from closings.tests.factories import closing_of
from medconnect import reset
from medconnect.models import DatabaseReset, ResetSource
from rooms.tests.factories import RoomFactory

from .reset_fixtures import FILLED, clinic_with_everything

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def folders(settings, tmp_path):
    """Backups in the test's own folder; private files where conftest's storage puts them."""
    settings.RESET_BACKUP_DIR = tmp_path / "backups"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings


@pytest.fixture
def clinic(db):
    return clinic_with_everything()


def row_counts() -> dict[str, int]:
    return {
        model._meta.label_lower: model._base_manager.count()
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


def backups(settings) -> list[Path]:
    folder = Path(settings.RESET_BACKUP_DIR)
    return sorted(folder.iterdir()) if folder.exists() else []


def triggers() -> list[tuple]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY 1")
        else:
            cursor.execute(
                "SELECT c.relname, t.tgname, t.tgenabled, pg_get_triggerdef(t.oid)"
                " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal ORDER BY 1, 2"
            )
        return cursor.fetchall()


def refused(sql: str, params=()) -> bool:
    """Whether the database itself refuses the statement (in a savepoint, so the test goes on)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        return True
    return False


# --- What goes, what stays --------------------------------------------------------------


def test_a_reset_empties_every_table_but_the_admins_and_the_schemas(clinic):
    before = row_counts()
    assert not [label for label in FILLED if not before[label]], "the clinic missed a table"
    admin_session = clinic["clients"]["admin"].session.session_key

    log = reset.database_reset(by=clinic["admin"])

    after = row_counts()
    survivors = {label: count for label, count in after.items() if count}
    kept_whole = {label: before[label] for label in reset.KEPT_MODELS if before[label]}
    assert survivors == {
        **kept_whole,
        "accounts.user": 2,
        "sessions.session": 1,
        "billing.billingsettings": 1,
        "medconnect.databasereset": 1,
    }
    assert set(User.objects.values_list("email", flat=True)) == {
        "helena@clinica.test",
        "rui@clinica.test",
    }
    assert apps.get_model("sessions", "Session").objects.get().pk == admin_session
    assert log.rows_deleted == sum(before.values()) - sum(after.values()) + 2  # +log, +defaults


def test_admins_keep_their_password_and_their_session_the_others_are_signed_out(clinic):
    admin, patient, doctor = (clinic["clients"][name] for name in ("admin", "carlos", "ana"))

    reset.database_reset(by=clinic["admin"])

    assert admin.get(reverse("dashboard")).status_code == 200
    for signed_out in (patient, doctor):
        response = signed_out.get(reverse("dashboard"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    login = Client().post(
        reverse("login"), {"username": "rui@clinica.test", "password": PASSWORD}
    )  # the other admin, who was not signed in
    assert login.status_code == 302 and login["Location"] == reverse("dashboard")


def test_the_billing_defaults_come_back_as_the_model_defines_them(clinic):
    assert BillingSettings.load().consultation_fee != DEFAULT_FEE

    reset.database_reset(by=clinic["admin"])

    defaults = BillingSettings.objects.get()
    assert defaults.pk == 1
    assert (defaults.consultation_fee, defaults.platform_percentage) == (
        DEFAULT_FEE,
        DEFAULT_PERCENTAGE,
    )
    assert defaults.min_billable_seconds == 0


def test_the_private_files_of_the_people_deleted_go_the_admins_stay(
    clinic, django_capture_on_commit_callbacks
):
    patient_photo, doctor_photo, admin_photo = (
        Path(default_storage.path(clinic[name].photo.name)) for name in ("carlos", "ana", "admin")
    )
    assert patient_photo.exists() and doctor_photo.exists() and admin_photo.exists()

    with django_capture_on_commit_callbacks(execute=True):
        log = reset.database_reset(by=clinic["admin"])

    assert not patient_photo.exists() and not doctor_photo.exists()
    assert admin_photo.exists()
    copy = Path(log.backup_path) / "private" / clinic["carlos"].photo.name
    assert copy.read_bytes()


def test_the_live_sockets_of_the_people_deleted_are_told_to_close(clinic):
    # Daniela's presence (her call socket's channel) goes with her: she is told first.
    reset.database_reset(by=clinic["admin"])

    receive = get_channel_layer().receive
    message = async_to_sync(asyncio.wait_for)(receive("inmemory!daniela"), timeout=2)
    assert message["type"] == "access.revoked"


# --- The backup -----------------------------------------------------------------------


def _pg_scratch_database(name: str, dump: Path):
    db = connection.settings_dict
    args = ["-h", db.get("HOST") or "127.0.0.1", "-p", str(db.get("PORT") or 5432)]
    args += ["-U", db.get("USER") or "postgres"]
    env = {"PGPASSWORD": db.get("PASSWORD") or ""}
    run = {"check": True, "capture_output": True, "env": {**os.environ, **env}}
    subprocess.run(["createdb", *args, name], **run)
    try:
        subprocess.run(["pg_restore", *args, "--no-owner", "-d", name, str(dump)], **run)
        query = (
            "SELECT (SELECT string_agg(email, ',' ORDER BY email) FROM accounts_user),"
            " (SELECT count(*) FROM clinical_evolutionrevision),"
            " (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal)"
        )
        out = subprocess.run(["psql", *args, "-d", name, "-tA", "-c", query], **run)
        emails, revisions, guards = out.stdout.decode().strip().split("|")
        return emails.split(","), int(revisions), int(guards)
    finally:
        subprocess.run(["dropdb", *args, "--if-exists", name], **run)


@pytest.mark.django_db(transaction=True)  # pg_dump, another process, sees committed rows only
def test_the_backup_holds_everything_the_reset_deleted(clinic, folders):
    emails = sorted(User.objects.values_list("email", flat=True))
    revisions = EvolutionRevision.objects.count()
    guards = len(triggers())

    log = reset.database_reset(by=clinic["admin"])

    folder = Path(log.backup_path)
    assert folder.parent == Path(folders.RESET_BACKUP_DIR)
    assert folder.stat().st_mode & 0o077 == 0, "the backup holds records: owner only"
    if connection.vendor == "sqlite":
        restored = sqlite3.connect(folder / "medconnect.sqlite3")
        try:
            got = sorted(email for (email,) in restored.execute("SELECT email FROM accounts_user"))
            count = restored.execute("SELECT count(*) FROM clinical_evolutionrevision").fetchone()
            kinds = restored.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")
            assert (got, count[0], kinds.fetchone()[0]) == (emails, revisions, guards)
        finally:
            restored.close()
    else:
        scratch = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"
        got, count, restored_guards = _pg_scratch_database(scratch, folder / "medconnect.dump")
        assert (sorted(got), count, restored_guards) == (emails, revisions, guards)
    assert User.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_without_pg_dump_the_backup_is_json_that_loaddata_restores(clinic, monkeypatch, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite is always copied with its own backup API")
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    carlos = clinic["carlos"].email

    log = reset.database_reset(by=clinic["admin"])
    dump = Path(log.backup_path) / "medconnect.json"
    assert not User.objects.filter(email=carlos).exists()
    call_command("loaddata", str(dump), verbosity=0)

    assert {row["model"] for row in json.loads(dump.read_text())} >= {"clinical.evolution"}
    assert User.objects.filter(email=carlos).exists()
    assert Evolution.objects.filter(patient__email=carlos).count() == 1


def _write_from_another_connection() -> str:
    """Whether a write from elsewhere goes through, or waits (given up on after 0.3 s)."""
    db = connection.settings_dict
    insert = (
        "INSERT INTO rooms_serverinstance (id, started_at, last_beat_at)"
        " VALUES ('elsewhere', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    if connection.vendor == "sqlite":
        other = sqlite3.connect(db["NAME"], timeout=0.3)
        locked = sqlite3.OperationalError
    else:
        import psycopg

        other = psycopg.connect(**connection.get_connection_params())
        other.execute("SET lock_timeout = '300ms'")
        locked = psycopg.errors.LockNotAvailable
    try:
        other.execute(insert)
        other.commit()
    except locked:
        return "waited"
    finally:
        other.close()
    return "wrote"


@pytest.mark.django_db(transaction=True)  # the other connection must see this test's rows
def test_nobody_else_writes_from_the_backup_to_the_commit(clinic, monkeypatch):
    attempts = []
    backup = reset.database_backup

    def backup_while_someone_writes(**kwargs):
        attempts.append(_write_from_another_connection())
        return backup(**kwargs)

    monkeypatch.setattr(reset, "database_backup", backup_while_someone_writes)

    reset.database_reset(by=clinic["admin"])

    assert attempts == ["waited"]
    assert _write_from_another_connection() == "wrote"


def _sqlite_copy_fails(*args, **kwargs):
    raise sqlite3.OperationalError("disk I/O error")


def _a_pg_dump_that_fails(folder: Path) -> Path:
    """A pg_dump on the PATH that exits 1, as a real one does on a full disk."""
    folder.mkdir()
    script = folder / "pg_dump"
    script.write_text("#!/bin/sh\necho 'pg_dump: error: No space left on device' >&2\nexit 1\n")
    script.chmod(0o755)
    return folder


def _copy_fails(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("failure", ["backups folder is a file", "database copy", "private files"])
def test_nothing_is_deleted_when_the_backup_cannot_be_written(
    clinic, folders, monkeypatch, tmp_path, failure
):
    if failure == "backups folder is a file":
        folders.RESET_BACKUP_DIR = tmp_path / "a-file"
        folders.RESET_BACKUP_DIR.write_text("not a folder")
    elif failure == "database copy" and connection.vendor == "sqlite":
        monkeypatch.setattr("medconnect.reset.sqlite3.connect", _sqlite_copy_fails)
    elif failure == "database copy":
        tools = _a_pg_dump_that_fails(tmp_path / "bin")
        monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    else:
        monkeypatch.setattr("medconnect.reset.shutil.copytree", _copy_fails)
    before = row_counts()

    with pytest.raises(ValidationError) as refusal:
        reset.database_reset(by=clinic["admin"])

    assert refusal.value.code == "backup-failed"
    assert "Nada foi apagado" in refusal.value.messages[0]
    if failure == "database copy" and connection.vendor == "postgresql":
        assert "No space left" in refusal.value.messages[0]
    assert row_counts() == before
    if failure != "backups folder is a file":
        assert backups(folders) == [], "a half-written backup was left behind"


# --- The guards ----------------------------------------------------------------------------


def test_every_trigger_is_back_after_a_reset_as_it_was(clinic):
    before = triggers()
    assert len(before) >= 5  # the clinical ones and the reset log's

    reset.database_reset(by=clinic["admin"])

    assert triggers() == before


def test_after_a_reset_the_database_still_refuses_to_rewrite_records(clinic):
    reset.database_reset(by=clinic["admin"])
    doctor = DoctorFactory()
    evolution = clinical_services.evolution_write(
        doctor=doctor, patient=PatientFactory(doctor=doctor), notes="Primeira consulta."
    )
    revision = evolution.revisions.get()

    assert refused("UPDATE clinical_evolutionrevision SET notes = 'x' WHERE id = %s", [revision.pk])
    assert refused("UPDATE medconnect_databasereset SET by_email = 'x@example.com'")
    event = closing_of(doctor).events.get()
    assert refused("UPDATE closings_closingevent SET note = 'x' WHERE id = %s", [event.pk])
    assert refused("DELETE FROM closings_closingevent WHERE id = %s", [event.pk])
    if connection.vendor == "postgresql":
        assert refused("DELETE FROM clinical_evolution WHERE id = %s", [evolution.pk])
        assert refused("DELETE FROM medconnect_databasereset")
    assert Evolution.objects.filter(pk=evolution.pk).exists()


def _install_a_guard_nobody_named(table: str) -> None:
    """What another app's migration may add one day: a table that refuses DELETE."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'never deleted'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION test_never_deleted() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'never deleted'; END; $$ LANGUAGE plpgsql",
                None,
            )
            cursor.execute(
                f"CREATE TRIGGER {table}_never_deleted BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION test_never_deleted()"
            )


def test_a_guard_added_later_by_any_app_is_passed_and_put_back(clinic):
    _install_a_guard_nobody_named("rooms_room")
    assert refused("DELETE FROM rooms_room")
    guards = triggers()

    reset.database_reset(by=clinic["admin"])

    assert triggers() == guards
    room = RoomFactory()
    assert refused("DELETE FROM rooms_room WHERE id = %s", [room.pk])


# --- The log -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # two pg_dumps: the second must not wait on the first
def test_the_log_keeps_every_reset_and_refuses_changes(clinic):
    first = reset.database_reset(by=clinic["admin"])
    second = reset.database_reset(by=None, source=ResetSource.PAGE)

    rows = list(DatabaseReset.objects.order_by("at", "pk"))
    assert rows == [first, second]
    assert (rows[0].by, rows[0].by_email, rows[0].who) == (
        clinic["admin"],
        "helena@clinica.test",
        "Helena Martins",
    )
    assert (rows[1].by, rows[1].who, rows[1].source) == (None, "linha de comando", "page")
    assert first.backup_path != second.backup_path
    assert all(Path(row.backup_path).is_dir() for row in rows)
    for change in (first.delete, lambda: DatabaseReset.objects.all().delete(), first.save):
        with pytest.raises(TypeError):
            change()


@pytest.mark.django_db(transaction=True)
def test_an_admin_removed_by_a_later_reset_stays_in_the_log_by_email(clinic):
    bea = AdminFactory(first_name="Beatriz", email="bea@clinica.test")
    reset.database_reset(by=bea)
    User.objects.filter(pk=bea.pk).update(role=Role.DOCTOR)  # no longer an admin

    reset.database_reset(by=clinic["admin"])

    first = DatabaseReset.objects.order_by("at", "pk").first()
    assert (first.by, first.by_email, first.who) == (None, "bea@clinica.test", "bea@clinica.test")
    assert not User.objects.filter(email="bea@clinica.test").exists()


# --- Refusals ----------------------------------------------------------------------------


def test_only_an_admin_can_reset(clinic, folders):
    before = row_counts()

    with pytest.raises(ValidationError) as refusal:
        reset.database_reset(by=clinic["ana"])

    assert refusal.value.code == "not-admin"
    assert row_counts() == before and backups(folders) == []


def test_turned_off_the_reset_refuses_before_writing_anything(clinic, folders):
    folders.ALLOW_DATABASE_RESET = False
    before = row_counts()

    with pytest.raises(ValidationError) as refusal:
        reset.database_reset(by=clinic["admin"])

    assert refusal.value.code == "disabled"
    assert row_counts() == before and backups(folders) == []


@pytest.mark.parametrize(
    ("typed", "language", "matches"),
    [
        ("APAGAR TUDO", "pt-br", True),
        ("  apagar   tudo ", "pt-br", True),
        ("APAGAR", "pt-br", False),
        ("DELETE EVERYTHING", "pt-br", False),
        ("DELETE EVERYTHING", "en", True),
        ("APAGAR TUDO", "en", False),
    ],
)
def test_the_phrase_is_the_active_languages(typed, language, matches):
    with translation.override(language):
        assert reset.confirmation_matches(typed) is matches


def test_the_backup_folder_is_named_by_local_time_and_never_reused(folders):
    folders.TIME_ZONE = "America/Sao_Paulo"
    now = timezone.now()
    first, second = reset.database_backup(), reset.database_backup()

    assert first != second and first.parent == second.parent == folders.RESET_BACKUP_DIR
    around = {
        timezone.localtime(now + dt.timedelta(seconds=s)).strftime("%Y-%m-%d_%H-%M-%S")
        for s in range(-1, 3)
    }
    assert re.fullmatch(r"[\d_-]{19}", first.name) and first.name in around
    assert sorted(path.name for path in first.iterdir())[-1] == "private"
