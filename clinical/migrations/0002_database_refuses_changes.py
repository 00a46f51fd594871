"""The database itself refuses to rewrite history.

- Revisions, emergency accesses and the access log are append-only: an UPDATE
  is refused on SQLite and PostgreSQL.
- Evolutions and those tables refuse DELETE on PostgreSQL. On SQLite a DELETE
  trigger would also fire on the test runner's flush (SQLite has no TRUNCATE),
  so there only foreign keys guard raw SQL: an evolution is referenced by its
  revisions, and every person with a record is PROTECTed; raw deletes of
  revision, grant and log rows are not refused by SQLite itself (the models,
  querysets and admin refuse them on both engines).
"""

from django.db import migrations

APPEND_ONLY = ("clinical_evolutionrevision", "clinical_emergencyaccess", "clinical_recordaccess")
NO_DELETE = ("clinical_evolution", *APPEND_ONLY)


def _sqlite(table, event):
    return (
        f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} rows are never {event.lower()}d'); END;"
    )


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for table in APPEND_ONLY:
            schema_editor.execute(_sqlite(table, "UPDATE"))
    elif vendor == "postgresql":
        # params=None: the driver must not read plpgsql's `%` as a placeholder.
        schema_editor.execute(
            """
            CREATE FUNCTION clinical_refuse() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% rows are never %d', TG_TABLE_NAME, lower(TG_OP);
            END;
            $$ LANGUAGE plpgsql;
            """,
            params=None,
        )
        for table in NO_DELETE:
            events = "UPDATE OR DELETE" if table in APPEND_ONLY else "DELETE"
            schema_editor.execute(
                f"CREATE TRIGGER {table}_refuse BEFORE {events} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION clinical_refuse();"
            )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for table in APPEND_ONLY:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update;")
    elif vendor == "postgresql":
        for table in NO_DELETE:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse ON {table};")
        schema_editor.execute("DROP FUNCTION IF EXISTS clinical_refuse();")


class Migration(migrations.Migration):
    dependencies = [("clinical", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
