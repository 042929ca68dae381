"""Applications read through the process's configuration cache (``mfa_server.config_cache``).

The instances are shared between requests and threads: read them, never change them (copy first).
"""

from __future__ import annotations

from approvals.models import Application
from mfa_server.config_cache import cached


def active_application(integration_key: str) -> Application | None:
    """The active application holding this key, with its tenant."""
    return cached(("application", integration_key), lambda: _load_active_application(integration_key))


def _load_active_application(integration_key: str) -> Application | None:
    try:  # get(), not first(): the key is unique, so no ORDER BY to build and run
        return Application.objects.select_related("tenant").get(integration_key=integration_key, is_active=True)
    except Application.DoesNotExist:
        return None


def application_cached(application_id: int) -> Application:
    """The application (active or not) of a transaction, with its tenant."""
    return cached(
        ("application-pk", application_id),
        lambda: Application.objects.select_related("tenant").get(pk=application_id),
    )
