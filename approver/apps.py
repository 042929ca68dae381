from django.apps import AppConfig


class ApproverConfig(AppConfig):
    """The rebrandable approval web app (PWA): its shell, service worker, manifest and browser API."""

    name = "approver"
    verbose_name = "Approver web app"

    def ready(self) -> None:
        from approver import checks  # noqa: F401  (registers system checks)
