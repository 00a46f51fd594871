"""The reset log in the Django admin: read, never written here (medconnect.reset writes it)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdmin
from accounts.models import short_local_datetime

from .models import DatabaseReset


@admin.register(DatabaseReset)
class DatabaseResetAdmin(ReadOnlyAdmin):
    list_display = ("when", "who", "source", "rows_deleted", "backup_path")
    list_select_related = ("by__doctor_profile",)
    list_filter = ("source",)
    date_hierarchy = "at"
    fields = ("when", "who", "by_email", "source", "rows_deleted", "backup_path")
    readonly_fields = fields

    @admin.display(description=_("when"), ordering="at")
    def when(self, obj):
        return short_local_datetime(obj.at)

    @admin.display(description=_("by"))
    def who(self, obj):
        return obj.who
