"""The access log also keeps refused attempts (a staff member answered "not found").

SQLite adds the column by rebuilding the table, which drops its triggers: the
append-only guard of migration 0002 is put back after the rebuild (both ways).
"""

from django.db import migrations, models

TABLE = "clinical_recordaccess"


def reinstall_append_only_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} rows are never updated'); END;"
        )


class Migration(migrations.Migration):
    dependencies = [("clinical", "0004_record_access_plural_name")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, reinstall_append_only_guard),
        migrations.AddField(
            model_name="recordaccess",
            name="refused",
            field=models.BooleanField(default=False, verbose_name="refused"),
        ),
        migrations.RunPython(reinstall_append_only_guard, migrations.RunPython.noop),
    ]
