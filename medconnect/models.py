"""The log of database resets: the one table a reset writes to and never empties.

A reset deletes almost everything (medconnect/reset.py), so what it did must be
told by a row that survives it: who, when, and where the backup went. The log
is append-only, in the ORM and in the database (migration 0002), like the
clinical access log.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import short_local_datetime
from billing.models import AppendOnlyModel


class ResetSource(models.TextChoices):
    COMMAND = "command", _("Command line")
    PAGE = "page", _("Reset page")


class DatabaseReset(AppendOnlyModel):
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    # PROTECT: whoever reset stays in the log. Null for the command line without
    # --actor, and after a later reset removed an admin who had lost the role
    # (their e-mail stays in by_email).
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    by_email = models.EmailField(_("e-mail of who reset"), blank=True)
    source = models.CharField(_("source"), max_length=10, choices=ResetSource.choices)
    backup_path = models.CharField(_("backup folder"), max_length=1000)
    rows_deleted = models.PositiveBigIntegerField(_("rows deleted"), default=0)

    class Meta:
        verbose_name = _("database reset")
        verbose_name_plural = _("database resets")
        ordering = ["-at", "-pk"]

    def __str__(self):
        return gettext("Database reset on %(time)s") % {"time": short_local_datetime(self.at)}

    @property
    def who(self) -> str:
        if self.by is not None:
            return self.by.display_name
        return self.by_email or gettext("command line")
