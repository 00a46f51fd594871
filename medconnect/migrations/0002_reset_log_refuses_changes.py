"""The database refuses to rewrite the reset log, as it does the clinical access log.

UPDATE is refused on SQLite and PostgreSQL, DELETE on PostgreSQL only: on SQLite
a DELETE trigger would also fire on the test runner's flush (SQLite has no
TRUNCATE). The reset itself lifts these triggers for the length of its
transaction (medconnect/reset.py) and puts them back before it commits.
"""

from django.db import migrations

TABLE = "medconnect_databasereset"


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} rows are never updated'); END;"
        )
    elif vendor == "postgresql":
        # params=None: the driver must not read plpgsql's `%` as a placeholder.
        schema_editor.execute(
            """
            CREATE FUNCTION medconnect_refuse() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% rows are never %d', TG_TABLE_NAME, lower(TG_OP);
            END;
            $$ LANGUAGE plpgsql;
            """,
            params=None,
        )
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_refuse BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION medconnect_refuse();"
        )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update;")
    elif vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_refuse ON {TABLE};")
        schema_editor.execute("DROP FUNCTION IF EXISTS medconnect_refuse();")


class Migration(migrations.Migration):
    dependencies = [("medconnect", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
