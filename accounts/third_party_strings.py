"""Strings of django-axes, which ships no pt_BR catalog.

Never imported: listing them here puts them in our pt_BR catalog (our
LOCALE_PATHS catalog wins over the app's), so the admin's login-throttling
pages read in Portuguese like the rest of the back office.
"""

from django.utils.translation import gettext_noop as _

AXES_STRINGS = [
    _("Access Attempt"), _("Access lock out"), _("Attempt Remaining"), _("Attempt Time"),
    _("Clean up expired attempts"), _("Expires At"), _("Failed Logins"), _("Form Data"),
    _("GET Data"), _("HTTP Accept"), _("IP Address"), _("Locked Out"), _("Logout Time"),
    _("Meta Data"), _("Not set"), _("POST Data"), _("Path"), _("Session key hash (sha256)"),
    _("The time when access attempt expires and is no longer valid."), _("User Agent"),
    _("Username"), _("access attempt expiration"), _("access attempt expirations"),
    _("access attempt"), _("access attempts"), _("access failure"), _("access failures"),
    _("access log"), _("access logs"),
]  # fmt: skip

# Django's own name for its LogEntry reads "entrada de log" in pt_BR; the back
# office calls it what it is (accounts/admin.py, LogEntryAdmin).
DJANGO_ADMIN_STRINGS = [_("log entry"), _("log entries")]
