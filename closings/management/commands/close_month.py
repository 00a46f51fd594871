import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from closings.services import last_closable_month, month_close


def _month(text: str) -> dt.date:
    try:
        month = dt.datetime.strptime(text, "%Y-%m").date()  # noqa: DTZ007 - a calendar month
    except ValueError:
        raise CommandError(f"{text!r} is not a month: write it as YYYY-MM, e.g. 2026-10.") from None
    if month.year < 2000:
        raise CommandError(f"{text!r} is too far back: months before 2000 cannot be closed.")
    return month


class Command(BaseCommand):
    help = (
        "Closes a month's payouts: one pending closing per doctor with billed consultations "
        "in no closing yet. Finalizes stale rooms first. Running it twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "month", nargs="?", help="YYYY-MM (default: the last month, in the clinic's time zone)"
        )

    def handle(self, *args, month=None, **options):
        month = _month(month) if month else last_closable_month()
        try:
            result = month_close(month=month)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        label = month.strftime("%Y-%m")
        if not result.changed:
            self.stdout.write(f"{label}: nothing new to close.")
            return
        for closing in result.created:
            self.stdout.write(
                f"{label}: closed {closing.doctor.display_name}: {closing.consultation_count} "
                f"consultation(s), net {closing.net_total}"
                + (f" (additional no. {closing.sequence})" if closing.is_additional else "")
            )
        for closing in result.recalculated:
            self.stdout.write(
                f"{label}: late consultations joined {closing.doctor.display_name}'s closing: "
                f"now {closing.consultation_count}, net {closing.net_total}"
            )
