from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoomsConfig(AppConfig):
    name = "rooms"
    verbose_name = _("Consultation rooms")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the signal receivers
