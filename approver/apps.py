from django.apps import AppConfig


class ApproverConfig(AppConfig):
    """The rebrandable approval web app (PWA): its shell, service worker, manifest and browser API."""

    name = "approver"
    verbose_name = "Approver web app"
