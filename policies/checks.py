"""System checks: a bad trusted-proxy list must stop the server at start, not fail requests later."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from mfa_server.addresses import parse_networks


@register()
def check_trusted_proxies(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """``MFA_TRUSTED_PROXIES`` must be a list of CIDRs (an empty list trusts no proxy)."""
    try:
        parse_networks(settings.MFA_TRUSTED_PROXIES)
    except (TypeError, ValueError) as exc:
        return [Error(f"MFA_TRUSTED_PROXIES is not a list of CIDRs: {exc}", id="policies.E001")]
    return []
