"""An evolution's row changes only together with a new revision.

The current text kept on the evolution (for listing without a join) must be
the latest revision's: an UPDATE is refused unless it moves `revision` up by
exactly one, to a revision row that already holds the same text, and leaves
who, whose and when alone.
"""

from django.db import migrations

CONDITION = """
    NEW.revision != OLD.revision + 1
    OR NEW.patient_id != OLD.patient_id
    OR NEW.doctor_id != OLD.doctor_id
    OR NEW.room_id IS DISTINCT FROM OLD.room_id
    OR NEW.created_at != OLD.created_at
    OR NOT EXISTS (
        SELECT 1 FROM clinical_evolutionrevision r
        WHERE r.evolution_id = NEW.id AND r.number = NEW.revision
          AND r.notes = NEW.notes AND r.diagnosis = NEW.diagnosis
          AND r.diagnosis_code = NEW.diagnosis_code AND r.prescription = NEW.prescription
    )
"""


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        condition = CONDITION.replace("IS DISTINCT FROM", "IS NOT")
        schema_editor.execute(
            "CREATE TRIGGER clinical_evolution_by_revision BEFORE UPDATE ON clinical_evolution "
            f"WHEN {condition} BEGIN "
            "SELECT RAISE(ABORT, 'clinical_evolution changes only by a new revision'); END;"
        )
    elif vendor == "postgresql":
        schema_editor.execute(
            f"""
            CREATE FUNCTION clinical_evolution_by_revision() RETURNS trigger AS $$
            BEGIN
                IF {CONDITION} THEN
                    RAISE EXCEPTION 'clinical_evolution changes only by a new revision';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql;
            """,
            params=None,
        )
        schema_editor.execute(
            "CREATE TRIGGER clinical_evolution_by_revision BEFORE UPDATE ON clinical_evolution "
            "FOR EACH ROW EXECUTE FUNCTION clinical_evolution_by_revision();"
        )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS clinical_evolution_by_revision"
        + (" ON clinical_evolution;" if vendor == "postgresql" else ";")
    )
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS clinical_evolution_by_revision();")


class Migration(migrations.Migration):
    dependencies = [("clinical", "0002_database_refuses_changes")]

    operations = [migrations.RunPython(forwards, backwards)]
