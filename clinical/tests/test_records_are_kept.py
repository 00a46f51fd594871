"""Records are never deleted and history is never rewritten, at every layer:
the model, the queryset, the foreign keys, and the database itself (migration 0002).
The Django admin's side is in test_admin.py."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from clinical import services
from clinical.models import EmergencyAccess, Evolution, EvolutionRevision, RecordAccess

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"


def refused_by_the_trigger(verb: str):
    """SQLite's RAISE(ABORT) is an IntegrityError; PostgreSQL's RAISE EXCEPTION (P0001)
    a ProgrammingError."""
    error = ProgrammingError if POSTGRES else IntegrityError
    return pytest.raises(error, match=f"rows are never {verb}d")


def raw(sql, *params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def access(doctor, patient, evolution):
    return services.record_access_log(
        viewer=doctor, patient=patient, section="evolution", evolution=evolution, ip_address=None
    )


# --- The ORM ---------------------------------------------------------------------------


def test_an_evolution_refuses_delete(evolution):
    with pytest.raises(PermissionDenied):
        evolution.delete()
    with pytest.raises(PermissionDenied):
        Evolution.objects.filter(pk=evolution.pk).delete()
    with pytest.raises(PermissionDenied):
        Evolution.objects.all().delete()

    assert Evolution.objects.filter(pk=evolution.pk).exists()


def test_revisions_grants_and_log_rows_refuse_delete(evolution, access, grant):
    revision = evolution.revisions.get()
    for obj in (revision, access, grant):
        with pytest.raises(PermissionDenied):
            obj.delete()
        with pytest.raises(PermissionDenied):
            type(obj).objects.filter(pk=obj.pk).delete()

    assert EvolutionRevision.objects.count() == 1
    assert RecordAccess.objects.count() == 1
    assert EmergencyAccess.objects.count() == 1


def test_log_rows_revisions_and_grants_refuse_changes(evolution, access, grant):
    revision = evolution.revisions.get()
    changes = [
        (access, "section", "chart"),
        (revision, "notes", "Reescrito"),
        (grant, "reason", "y" * 30),
    ]
    for obj, field, value in changes:
        setattr(obj, field, value)
        with pytest.raises(PermissionDenied):
            obj.save()
        with pytest.raises(PermissionDenied):
            type(obj).objects.filter(pk=obj.pk).update(**{field: value})

    access.refresh_from_db()
    revision.refresh_from_db()
    grant.refresh_from_db()
    assert (access.section, revision.notes) == ("evolution", "Tosse seca há 3 dias.")
    assert grant.reason != "y" * 30


@pytest.mark.parametrize("who", ["patient", "doctor"])
def test_people_with_a_record_cannot_be_deleted(request, evolution, who):
    person = request.getfixturevalue(who)

    with pytest.raises(ProtectedError) as error:
        person.delete()

    assert evolution in error.value.protected_objects
    assert Evolution.objects.filter(pk=evolution.pk).exists()


def test_a_room_with_an_evolution_and_its_people_cannot_be_deleted(doctor, room):
    evolution = services.evolution_write(
        doctor=doctor, patient=room.patient, room=room, notes="Na chamada."
    )

    for obj in (room, room.doctor, room.patient):
        with pytest.raises(ProtectedError) as error:
            obj.delete()
        assert evolution in error.value.protected_objects
    assert Evolution.objects.filter(pk=evolution.pk, room=room).exists()


def test_an_admin_who_opened_a_record_cannot_be_deleted(grant_admin, grant, patient):
    row = services.record_access_log(
        viewer=grant_admin, patient=patient, section="chart", ip_address=None
    )

    with pytest.raises(ProtectedError) as error:
        grant_admin.delete()

    assert {grant, row} <= set(error.value.protected_objects)


# --- The database itself -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_raw_sql_cannot_delete_an_evolution(evolution):
    # PostgreSQL: the trigger. SQLite: the revisions' foreign key, checked at commit.
    error = ProgrammingError if POSTGRES else IntegrityError
    with pytest.raises(error, match="rows are never deleted" if POSTGRES else "FOREIGN KEY"):
        raw("DELETE FROM clinical_evolution WHERE id=%s", evolution.pk)

    assert Evolution.objects.filter(pk=evolution.pk).exists()
    assert EvolutionRevision.objects.filter(evolution=evolution).exists()


def test_raw_sql_cannot_update_the_log(access):
    with refused_by_the_trigger("update"):
        raw("UPDATE clinical_recordaccess SET section = 'chart' WHERE id = %s", access.pk)

    access.refresh_from_db()
    assert access.section == "evolution"


def test_raw_sql_cannot_update_a_revision(evolution):
    revision = evolution.revisions.get()

    with refused_by_the_trigger("update"):
        raw("UPDATE clinical_evolutionrevision SET notes = 'Reescrito' WHERE id = %s", revision.pk)

    revision.refresh_from_db()
    assert revision.notes == "Tosse seca há 3 dias."


def test_raw_sql_cannot_update_a_grant(grant):
    later = timezone.now() + dt.timedelta(days=30)

    with refused_by_the_trigger("update"):
        raw("UPDATE clinical_emergencyaccess SET expires_at = %s WHERE id = %s", later, grant.pk)

    grant.refresh_from_db()
    assert grant.expires_at < later


@pytest.mark.skipif(not POSTGRES, reason="SQLite has no DELETE triggers (they would fire on flush)")
@pytest.mark.parametrize(
    "table", ["clinical_evolutionrevision", "clinical_recordaccess", "clinical_emergencyaccess"]
)
def test_raw_sql_cannot_delete_history_on_postgresql(table, evolution, access, grant):
    with refused_by_the_trigger("delete"):
        raw(f"DELETE FROM {table}")  # noqa: S608 - a constant table name


# --- An evolution's current text is always its latest revision ------------------------------


def test_saving_an_evolution_again_is_refused(evolution):
    evolution.notes = "Reescrito sem revisão"
    with pytest.raises(PermissionDenied):
        evolution.save()

    evolution.refresh_from_db()
    assert evolution.notes == "Tosse seca há 3 dias."


def by_revision_only():
    error = ProgrammingError if POSTGRES else IntegrityError
    return pytest.raises(error, match="changes only by a new revision")


@pytest.mark.parametrize(
    "change",
    [
        {"notes": "'Reescrito'"},  # text without a revision
        {"notes": "'Reescrito'", "revision": "2"},  # a revision number with no revision row
        {"patient_id": "NULL"},
        {"created_at": "created_at"},  # harmless: same value, but revision unchanged
    ],
    ids=["text", "number-without-row", "patient", "no-new-revision"],
)
def test_the_database_refuses_changing_an_evolution_outside_a_revision(evolution, change):
    assignments = ", ".join(f"{column} = {value}" for column, value in change.items())
    with by_revision_only():
        raw(f"UPDATE clinical_evolution SET {assignments} WHERE id = %s", evolution.pk)  # noqa: S608

    evolution.refresh_from_db()
    assert (evolution.revision, evolution.notes) == (1, "Tosse seca há 3 dias.")


def test_the_database_accepts_an_update_that_matches_a_new_revision(doctor, evolution):
    amended = services.evolution_amend(
        evolution=evolution, author=doctor, reason="Correção", notes="Texto novo"
    )

    assert (amended.revision, amended.notes) == (2, "Texto novo")
    assert amended.revisions.get(number=2).notes == "Texto novo"


def test_every_database_guard_is_installed():
    # SQLite rebuilds a table for some schema changes and drops its triggers with it:
    # a later migration must not silently remove these.
    with connection.cursor() as cursor:
        if POSTGRES:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'clinical_%%'"
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        installed = {name for (name,) in cursor.fetchall()}

    expected = {"clinical_evolution_by_revision"}
    if POSTGRES:
        expected |= {
            f"{table}_refuse"
            for table in (
                "clinical_evolution",
                "clinical_evolutionrevision",
                "clinical_emergencyaccess",
                "clinical_recordaccess",
            )
        }
    else:
        expected |= {
            f"{table}_no_update"
            for table in (
                "clinical_evolutionrevision",
                "clinical_emergencyaccess",
                "clinical_recordaccess",
            )
        }
    assert expected <= installed
