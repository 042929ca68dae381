from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Applications and approvals"

    def ready(self) -> None:
        from approvals.models import Application
        from mfa_server.config_cache import watch

        watch(Application)
