import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from rooms.services import rooms_finalize_stale


class Command(BaseCommand):
    help = (
        "Finalizes open rooms nobody is in and nothing happened in for longer than "
        "STALE_ROOM_HOURS (or --hours). Safe to run as often as you like, e.g. from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours",
            type=float,
            default=None,
            help="Idle time in hours (default: the STALE_ROOM_HOURS setting, 12).",
        )

    def handle(self, *args, hours=None, **options):
        hours = settings.STALE_ROOM_HOURS if hours is None else hours
        if hours <= 0:
            raise CommandError("--hours must be a positive number of hours.")
        count = rooms_finalize_stale(idle_for=dt.timedelta(hours=hours))
        self.stdout.write(f"Finalized {count} stale room(s) idle for more than {hours:g} h.")
