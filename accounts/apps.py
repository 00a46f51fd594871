import axes.apps
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    # This module holds two configs: "accounts" in INSTALLED_APPS means this one.
    default = True
    verbose_name = _("Accounts")


class AxesConfig(axes.apps.AppConfig):
    """django-axes under a section name the clinic's admins read (its own has none)."""

    default = False
    verbose_name = _("Login attempts")
