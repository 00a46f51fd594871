"""The database itself keeps the closings honest.

- Closing events are append-only: UPDATE and DELETE are refused on both
  engines (see closings/guards.py for SQLite's escape for the test flush).
- On PostgreSQL, a deferred constraint trigger checks at commit that every
  closing that is not cancelled has exactly the count and totals of its
  billing records. SQLite has no deferred triggers, so there the services
  (and a test) hold that rule.
"""

from django.db import migrations

EVENTS = "closings_closingevent"

# 0004 replaced this check and restores it when it is reversed.
TOTALS_CHECK = """
CREATE FUNCTION closings_check_totals() RETURNS trigger AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_TABLE_NAME = 'billing_billingrecord' THEN
        ids := ARRAY[NEW.closing_id];
        IF TG_OP = 'UPDATE' THEN
            ids := ids || OLD.closing_id;
        END IF;
    ELSE
        ids := ARRAY[NEW.id];
    END IF;
    IF EXISTS (
        SELECT 1 FROM closings_monthlyclosing c
        CROSS JOIN LATERAL (
            SELECT count(*) AS n, coalesce(sum(r.gross), 0) AS gross,
                   coalesce(sum(r.platform_amount), 0) AS platform,
                   coalesce(sum(r.doctor_amount), 0) AS net
            FROM billing_billingrecord r WHERE r.closing_id = c.id
        ) s
        WHERE c.id = ANY(ids) AND c.status <> 'cancelled'
          AND (c.consultation_count, c.gross_total, c.platform_total, c.net_total)
              IS DISTINCT FROM (s.n, s.gross, s.platform, s.net)
    ) THEN
        RAISE EXCEPTION 'a monthly closing''s totals must equal the sum of its records';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER closings_totals_of_records
    AFTER INSERT OR UPDATE ON billing_billingrecord
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION closings_check_totals();

CREATE CONSTRAINT TRIGGER closings_totals_of_closing
    AFTER INSERT OR UPDATE ON closings_monthlyclosing
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION closings_check_totals();
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for event in ("UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER {EVENTS}_no_{event.lower()} BEFORE {event} ON {EVENTS} "
                "WHEN closings_guarded() "
                f"BEGIN SELECT RAISE(ABORT, '{EVENTS} rows are never {event.lower()}d'); END;"
            )
    elif vendor == "postgresql":
        # params=None: the driver must not read plpgsql's `%` as a placeholder.
        schema_editor.execute(
            """
            CREATE FUNCTION closings_refuse() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% rows are never %d', TG_TABLE_NAME, lower(TG_OP);
            END;
            $$ LANGUAGE plpgsql;

            CREATE TRIGGER closings_closingevent_refuse BEFORE UPDATE OR DELETE
                ON closings_closingevent FOR EACH ROW EXECUTE FUNCTION closings_refuse();

            """
            + TOTALS_CHECK,
            params=None,
        )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for event in ("update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {EVENTS}_no_{event};")
    elif vendor == "postgresql":
        schema_editor.execute(
            """
            DROP TRIGGER IF EXISTS closings_totals_of_closing ON closings_monthlyclosing;
            DROP TRIGGER IF EXISTS closings_totals_of_records ON billing_billingrecord;
            DROP FUNCTION IF EXISTS closings_check_totals();
            DROP TRIGGER IF EXISTS closings_closingevent_refuse ON closings_closingevent;
            DROP FUNCTION IF EXISTS closings_refuse();
            """,
            params=None,
        )


class Migration(migrations.Migration):
    dependencies = [("closings", "0001_initial"), ("billing", "0004_billingrecord_closing")]

    operations = [migrations.RunPython(forwards, backwards)]
