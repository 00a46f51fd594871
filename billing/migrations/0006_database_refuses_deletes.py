"""The database itself keeps billing's records and history, as clinical's does.

- Rate changes and record events are append-only: an UPDATE is refused on
  SQLite and PostgreSQL.
- Billing records and those two tables refuse DELETE on PostgreSQL. On SQLite
  a DELETE trigger would also fire on the test runner's flush (SQLite has no
  TRUNCATE), so there only the foreign keys guard raw SQL, when the transaction
  commits: a record with events is referenced by them.
  The models, querysets and admin refuse deletes on both engines.
- A record itself may change (voided, restored, put in a closing): closings'
  triggers check those changes.

medconnect.reset lifts every trigger while it empties the database.
"""

from django.db import migrations

APPEND_ONLY = ("billing_ratechange", "billing_billingrecordevent")
NO_DELETE = ("billing_billingrecord", *APPEND_ONLY)


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for table in APPEND_ONLY:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are never updated'); END;"
            )
    elif vendor == "postgresql":
        # params=None: the driver must not read plpgsql's `%` as a placeholder.
        schema_editor.execute(
            """
            CREATE FUNCTION billing_refuse() RETURNS trigger AS $$
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
                "FOR EACH ROW EXECUTE FUNCTION billing_refuse();"
            )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for table in APPEND_ONLY:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update;")
    elif vendor == "postgresql":
        for table in NO_DELETE:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse ON {table};")
        schema_editor.execute("DROP FUNCTION IF EXISTS billing_refuse();")


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_money_checks_to_the_cent")]

    operations = [migrations.RunPython(forwards, backwards)]
