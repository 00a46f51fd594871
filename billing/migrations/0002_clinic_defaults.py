"""The clinic's one row of billing defaults: R$ 150,00, 30 % to the clinic, any time together counts."""

from decimal import Decimal

from django.db import migrations


def create_defaults(apps, schema_editor):
    apps.get_model("billing", "BillingSettings").objects.get_or_create(
        pk=1,
        defaults={
            "consultation_fee": Decimal("150.00"),
            "platform_percentage": Decimal("30.00"),
            "min_billable_seconds": 0,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
