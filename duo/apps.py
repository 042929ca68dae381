from django.apps import AppConfig


class DuoConfig(AppConfig):
    name = "duo"
    verbose_name = "Duo-compatible front doors"
