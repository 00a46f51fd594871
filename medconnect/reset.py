"""The database reset: a backup, then every row but the admins' goes, in one transaction.

For a demo or a test install that must start over. It is the one sanctioned
path past the guards that keep medical records and audit trails (querysets
that refuse delete(), triggers that refuse UPDATE and DELETE): it gets past
them on purpose, for its own transaction only, and leaves them installed.

It knows no app's tables by name. Every model of every installed app is
emptied except the few listed in KEPT_MODELS and the admins' own rows (their
accounts and sessions); every trigger in the database is lifted and put
back. A table or a guard an app adds later is covered without a change here.
"""

import logging
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.signals import access_revoked
from billing.models import BillingSettings

from .models import DatabaseReset, ResetSource

logger = logging.getLogger(__name__)

# Rows every reset keeps whole. The schema's own (content types and permissions,
# which migrations wrote), groups (configuration, not anybody's data), the reset
# log, and the heartbeats of running server processes: a live process goes on
# pointing new call presences at its own row, which must still be there.
KEPT_MODELS = frozenset(
    {
        "contenttypes.contenttype",
        "auth.permission",
        "auth.group",
        "auth.group_permissions",
        "medconnect.databasereset",
        "rooms.serverinstance",
    }
)
SUPPORTED_VENDORS = ("sqlite", "postgresql")
# The ways writing a backup fails: the disk, SQLite, pg_dump, dumpdata.
BACKUP_ERRORS = (OSError, sqlite3.Error, subprocess.SubprocessError, CommandError, DatabaseError)


def reset_allowed() -> bool:
    return settings.ALLOW_DATABASE_RESET


def confirmation_phrase() -> str:
    """What the admin types to confirm, in the active language."""
    # Translators: typed by hand to confirm the reset. Short, in capitals, no accents.
    return _("DELETE EVERYTHING")


def confirmation_matches(typed: str) -> bool:
    """The phrase as typed, give or take case and spaces."""
    return " ".join((typed or "").split()).casefold() == confirmation_phrase().casefold()


def database_reset_check(*, by: User | None) -> None:
    """Refuse before anything is asked or written: the reset is off, or `by` is no admin."""
    if not reset_allowed():
        raise ValidationError(
            _("The database reset is turned off on this server (ALLOW_DATABASE_RESET=false)."),
            code="disabled",
        )
    if by is not None and not (by.is_active and by.role == Role.ADMIN):
        raise ValidationError(_("Only an administrator can reset the database."), code="not-admin")


# --- Backup --------------------------------------------------------------------


def _new_backup_folder() -> Path:
    """RESET_BACKUP_DIR/<local time>/, readable by the server's user only (it holds records)."""
    base = Path(settings.RESET_BACKUP_DIR)
    base.mkdir(parents=True, exist_ok=True)
    stamp = timezone.localtime().strftime("%Y-%m-%d_%H-%M-%S")
    for attempt in range(1, 100):
        folder = base / (stamp if attempt == 1 else f"{stamp}-{attempt}")
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(base / stamp)


def _sqlite_backup(connection, target: Path) -> None:
    """SQLite's online backup: a consistent copy while the server keeps running.

    Read through a connection of its own, which sees what is committed (as
    pg_dump does): a connection inside a write transaction cannot be backed up.
    """
    own = not connection.is_in_memory_db()
    if own:
        timeout = connection.settings_dict["OPTIONS"].get("timeout", 5)
        source = sqlite3.connect(connection.settings_dict["NAME"], timeout=timeout)
    else:
        connection.ensure_connection()
        source = connection.connection
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
        # One self-contained file, whatever the live database's journal mode.
        destination.execute("PRAGMA journal_mode=DELETE")
    finally:
        destination.close()
        if own:
            source.close()


def _pg_dump(connection, pg_dump: str, target: Path) -> None:
    # dbshell's translation of DATABASES (host, port, user, name, password and
    # SSL options as libpq variables) serves pg_dump as well as psql.
    # A lock pg_dump would wait for forever (a migration queued behind the reset's
    # own locks) fails the backup instead, and nothing is deleted.
    options = ["--format=custom", "--no-owner", "--no-privileges", "--lock-wait-timeout=60s"]
    options += ["--file", str(target)]
    args, env = connection.client.settings_to_cmd_args_env(connection.settings_dict, options)
    subprocess.run(  # noqa: S603 - arguments from settings, no shell
        [pg_dump, *args[1:]],
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    )


def _dumpdata(connection, target: Path) -> None:
    call_command(
        "dumpdata",
        database=connection.alias,
        natural_foreign=True,
        use_base_manager=True,
        exclude=["contenttypes", "auth.permission"],
        output=str(target),
        verbosity=0,
    )


def _dump_database(connection, folder: Path) -> Path:
    if connection.vendor == "sqlite":
        target = folder / "medconnect.sqlite3"
        _sqlite_backup(connection, target)
    elif pg_dump := shutil.which("pg_dump"):
        target = folder / "medconnect.dump"
        _pg_dump(connection, pg_dump, target)
    else:
        target = folder / "medconnect.json"
        _dumpdata(connection, target)
    return target


def _failure(error: Exception) -> str:
    """One line that says what went wrong: pg_dump's last word, or the error's first line."""
    if isinstance(error, subprocess.CalledProcessError) and (error.stderr or "").strip():
        return error.stderr.strip().splitlines()[-1]
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def database_backup(*, using: str = DEFAULT_DB_ALIAS) -> Path:
    """Copy the database and the private files into a new folder of RESET_BACKUP_DIR.

    SQLite: a copy of the database file. PostgreSQL: pg_dump's custom format when
    pg_dump is on the PATH, else dumpdata's JSON. Raises ValidationError
    (code backup-failed) and leaves no half-written folder behind.
    """
    connection = connections[using]
    folder = None
    try:
        folder = _new_backup_folder()
        _dump_database(connection, folder)
        private = Path(settings.PRIVATE_MEDIA_ROOT)
        if private.exists():
            shutil.copytree(private, folder / "private")
        else:
            (folder / "private").mkdir()
    except BACKUP_ERRORS as error:
        # The world outside failed (the disk, pg_dump): its message says it all.
        logger.warning("The backup before a database reset failed: %s", _failure(error))
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise ValidationError(
            _("The backup could not be written (%(error)s). Nothing was deleted."),
            code="backup-failed",
            params={"error": _failure(error)},
        ) from error
    return folder


# --- The guards -------------------------------------------------------------------


def _sqlite_triggers_lift(cursor, quote) -> list:
    cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
    triggers = cursor.fetchall()
    for name, _sql in triggers:
        cursor.execute(f"DROP TRIGGER {quote(name)}")
    return triggers


def _sqlite_triggers_restore(cursor, triggers) -> None:
    for _name, sql in triggers:
        cursor.execute(sql)


# How each enabled state is put back: fires on origin (the default), always, on replicas.
_PG_ENABLE = {"O": "ENABLE TRIGGER", "A": "ENABLE ALWAYS TRIGGER", "R": "ENABLE REPLICA TRIGGER"}


def _pg_triggers_lift(cursor, quote) -> list:
    # User triggers only: the internal ones are the foreign keys, which stay on.
    cursor.execute(
        "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND pg_table_is_visible(c.oid)"
        " ORDER BY c.relname, t.tgname"
    )
    triggers = cursor.fetchall()
    for table, name, _state in triggers:
        cursor.execute(f"ALTER TABLE {quote(table)} DISABLE TRIGGER {quote(name)}")
    return triggers


def _pg_triggers_restore(cursor, quote, triggers) -> None:
    for table, name, state in triggers:
        cursor.execute(f"ALTER TABLE {quote(table)} {_PG_ENABLE[state]} {quote(name)}")


class _GuardsLifted:
    """Every trigger of the database off, for the enclosing transaction only.

    SQLite cannot disable a trigger: they are dropped and created again from the
    SQL they were made with. PostgreSQL disables and re-enables each one (the
    app owns its tables). Both are transactional, so a reset that fails is
    rolled back with its triggers as they were; nothing is put back by hand then.
    Foreign keys are checked on the way in and out: PostgreSQL refuses to alter a
    table with deferred checks pending, and a broken reference must fail here,
    with the triggers still off, not at commit.
    """

    def __init__(self, connection):
        self.connection = connection
        self.triggers = []

    def __enter__(self):
        self.connection.check_constraints()
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "sqlite":
                self.triggers = _sqlite_triggers_lift(cursor, self.connection.ops.quote_name)
            else:
                self.triggers = _pg_triggers_lift(cursor, self.connection.ops.quote_name)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            return False  # the transaction's rollback restores them
        self.connection.check_constraints()
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "sqlite":
                _sqlite_triggers_restore(cursor, self.triggers)
            else:
                _pg_triggers_restore(cursor, self.connection.ops.quote_name, self.triggers)
        return False


# --- What goes ----------------------------------------------------------------------


@dataclass
class _Plan:
    """The rows each table loses (`doomed`, by model), and the files they hold."""

    doomed: dict = field(default_factory=dict)
    kept: list = field(default_factory=list)
    files: list = field(default_factory=list)


def _concrete_models(connection) -> list[type[models.Model]]:
    """One model per table that exists: proxies, unmanaged and swapped-out models left out."""
    existing = set(connection.introspection.table_names())
    seen, found = set(), []
    for model in apps.get_models(include_auto_created=True):
        table = model._meta.db_table
        if model._meta.proxy or not model._meta.managed or table in seen or table not in existing:
            continue
        seen.add(table)
        found.append(model)
    return found


def _admin_sessions(session_model, admin_ids: set[str]) -> list[str]:
    return [
        session.pk
        for session in session_model._base_manager.iterator()
        if session.get_decoded().get(SESSION_KEY) in admin_ids
    ]


def _plan(connection) -> _Plan:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    admin_ids = list(user_model._base_manager.filter(role=Role.ADMIN).values_list("pk", flat=True))
    sessions_installed = apps.is_installed("django.contrib.sessions")
    session_model = apps.get_model("sessions", "Session") if sessions_installed else None
    plan = _Plan()
    for model in _concrete_models(connection):
        rows = model._base_manager.all()
        if model._meta.label_lower in KEPT_MODELS:
            plan.kept.append(model)
            continue
        if model is user_model:
            plan.kept.append(model)
            rows = rows.exclude(pk__in=admin_ids)
        elif model is session_model:
            plan.kept.append(model)
            keys = _admin_sessions(session_model, {str(pk) for pk in admin_ids})
            rows = rows.exclude(pk__in=keys)
        plan.doomed[model] = rows
        for file_field in model._meta.concrete_fields:
            if isinstance(file_field, models.FileField):
                names = rows.filter(**{f"{file_field.attname}__gt": ""})
                for name in names.values_list(file_field.attname, flat=True):
                    plan.files.append((file_field.storage, name))
    return plan


def _refers_to(model, target) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if f.is_relation and f.related_model._meta.concrete_model is target._meta.concrete_model
    ]


def _children_first(doomed: dict) -> list:
    """Tables that point at others are emptied before those (a cycle: any order, the
    deferred foreign keys are checked once everything is gone)."""
    remaining, ordered = list(doomed), []
    while remaining:
        ready = [
            model
            for model in remaining
            if not any(_refers_to(other, model) for other in remaining if other is not model)
        ] or remaining[:1]
        ordered += ready
        remaining = [model for model in remaining if model not in ready]
    return ordered


def _unlink_kept_rows(plan: _Plan) -> None:
    """Rows that stay must not point at rows that go: clear the link where it may be
    empty, drop the row of a many-to-many table, refuse the reset otherwise."""
    for model in plan.kept:
        surviving = model._base_manager.all()
        if model in plan.doomed:
            surviving = surviving.exclude(pk__in=plan.doomed[model].values("pk"))
        for target, doomed in plan.doomed.items():
            for fk in _refers_to(model, target):
                targets = doomed.values(fk.target_field.attname)
                rows = surviving.filter(**{f"{fk.name}__in": targets})
                if fk.null:
                    rows.update(**{fk.attname: None})
                elif model._meta.auto_created:
                    rows._raw_delete(rows.db)
                elif rows.exists():
                    raise ValidationError(
                        _(
                            "Some rows that stay (%(rows)s) point at rows that would go "
                            "(%(target)s). Nothing was deleted."
                        ),
                        code="kept-row-refers-to-deleted",
                        params={
                            "rows": model._meta.verbose_name_plural,
                            "target": target._meta.verbose_name_plural,
                        },
                    )


def _hold_writers(connection) -> None:
    """Nobody else writes until this transaction ends, so the backup taken next holds
    exactly what it deletes. SQLite: the project's transactions begin IMMEDIATE,
    which takes the one write lock (settings.py). PostgreSQL: every table in SHARE
    mode, which lets readers (pg_dump among them) in and keeps writers waiting."""
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    tables = ", ".join(quote(model._meta.db_table) for model in _concrete_models(connection))
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {tables} IN SHARE MODE")


def _remove_files(files) -> None:
    for storage, name in files:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("Could not remove %s after a database reset", name, exc_info=True)


def database_reset(
    *, by: User | None, source: str = ResetSource.COMMAND, using: str = DEFAULT_DB_ALIAS
) -> DatabaseReset:
    """Back up, then delete every row but the admins' (accounts and sessions), the
    schema's and the reset log, in one transaction. Returns the log row.

    The billing defaults come back as the model defines them. The people who go
    lose their sockets (access_revoked, sent while their presences are still
    there to be found), their sessions and their private files (after commit).
    Raises ValidationError: disabled, not-admin, unsupported-database,
    backup-failed, kept-row-refers-to-deleted, refused; nothing is deleted then.
    """
    database_reset_check(by=by)
    connection = connections[using]
    if connection.vendor not in SUPPORTED_VENDORS:
        raise ValidationError(
            _("The reset works on SQLite and PostgreSQL only."), code="unsupported-database"
        )
    try:
        # durable: a transaction of its own, which the backup below sees committed.
        with transaction.atomic(using=using, durable=True):
            _hold_writers(connection)
            backup = database_backup(using=using)
            plan = _plan(connection)
            user_model = apps.get_model(settings.AUTH_USER_MODEL)
            for person in plan.doomed[user_model].iterator():
                access_revoked.send(sender=user_model, user=person)
            with _GuardsLifted(connection):
                _unlink_kept_rows(plan)
                deleted = sum(
                    plan.doomed[model]._raw_delete(using) for model in _children_first(plan.doomed)
                )
            BillingSettings.load()
            log = DatabaseReset.objects.create(
                by=by,
                by_email=by.email if by else "",
                source=source,
                backup_path=str(backup),
                rows_deleted=deleted,
            )
            files = plan.files
            transaction.on_commit(lambda: _remove_files(files), using=using)
    except DatabaseError as error:
        logger.exception("The database reset failed and was rolled back")
        raise ValidationError(
            _("The database refused the reset (%(error)s). Nothing was deleted."),
            code="refused",
            params={"error": _failure(error)},
        ) from error
    logger.warning(
        "Database reset by %s (%s): %d rows deleted, backup in %s",
        log.by_email or "the command line",
        source,
        deleted,
        backup,
    )
    return log
