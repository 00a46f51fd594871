from django.db.backends.signals import connection_created
from django.dispatch import receiver

from billing.signals import record_left_closing

from . import guards, services


@receiver(record_left_closing)
def recalculate_the_closing(sender, record, closing_id, **kwargs):
    services.closing_record_left(closing_id=closing_id)


@receiver(connection_created)
def install_the_guard_function(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        guards.install(connection)
