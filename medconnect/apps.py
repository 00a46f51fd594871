from django.apps import AppConfig


class MedconnectConfig(AppConfig):
    name = "medconnect"
    verbose_name = "MedConnect"
