from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClosingsConfig(AppConfig):
    name = "closings"
    verbose_name = _("Closings")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the signal receivers
