"""`manage.py reset_database`: every row but the admins' goes, after a backup."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts.models import Role, User, normalize_email
from medconnect import reset
from medconnect.models import ResetSource


def _refused(error: ValidationError) -> CommandError:
    return CommandError(" ".join(error.messages))


class Command(BaseCommand):
    # Translated when asked for (argparse takes no lazy strings), in the active language.
    @property
    def help(self):
        return _(
            "Deletes every doctor, patient, consultation, medical record and billing record; "
            "the administrator accounts stay. Writes a backup first. Asks you to type a "
            "confirmation phrase, unless given --yes."
        )

    def add_arguments(self, parser):
        parser.add_argument("--yes", action="store_true", help=_("Do not ask for the phrase."))
        parser.add_argument(
            "--actor",
            metavar="EMAIL",
            default="",
            help=_("E-mail of the administrator asking for it, for the log."),
        )

    def handle(self, *args, yes=False, actor="", **options):
        by = self._admin(actor) if actor else None
        try:
            reset.database_reset_check(by=by)
        except ValidationError as error:
            raise _refused(error) from None
        if not yes:
            self._confirm()
        try:
            done = reset.database_reset(by=by, source=ResetSource.COMMAND)
        except ValidationError as error:
            raise _refused(error) from None
        kept = User.objects.filter(role=Role.ADMIN).order_by("email")
        self.stdout.write(
            self.style.SUCCESS(
                _("Database reset: %(rows)d rows deleted. Backup in %(path)s.")
                % {"rows": done.rows_deleted, "path": done.backup_path}
            )
        )
        emails = ", ".join(kept.values_list("email", flat=True)) or "-"
        self.stdout.write(_("Administrators kept: %(emails)s.") % {"emails": emails})

    def _admin(self, email: str) -> User:
        user = User.objects.filter(email__iexact=normalize_email(email)).first()
        if user is None:
            message = _("There is no account with the e-mail %(email)s.")
            raise CommandError(message % {"email": email})
        return user

    def _confirm(self) -> None:
        phrase = reset.confirmation_phrase()
        self.stdout.write(
            _(
                "This deletes every doctor, patient, consultation, medical record and billing "
                "record; only the administrator accounts stay. A backup is written first, "
                "into %(folder)s."
            )
            % {"folder": settings.RESET_BACKUP_DIR}
        )
        try:
            typed = input(_("Type %(phrase)s to confirm: ") % {"phrase": phrase})
        except (EOFError, KeyboardInterrupt):
            raise CommandError(_("Cancelled: nothing was deleted.")) from None
        if not reset.confirmation_matches(typed):
            raise CommandError(
                _("That is not %(phrase)s: nothing was deleted.") % {"phrase": phrase}
            )
