"""System checks of the approver's WebAuthn and Web Push configuration (``manage.py check``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from devices.webauthn import ATTESTATION_CHOICES


def _host_matches(host: str, rp_id: str) -> bool:
    return host == rp_id or host.endswith("." + rp_id)


@register()
def webauthn_config(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """RP ID a registrable suffix of every origin; a known attestation setting; https outside localhost."""
    problems: list[Any] = []
    rp_id = settings.MFA_WEBAUTHN_RP_ID
    for origin in settings.MFA_WEBAUTHN_ORIGINS:
        parts = urlsplit(origin)
        host = (parts.hostname or "").lower()
        if not _host_matches(host, rp_id.lower()):
            problems.append(
                Error(
                    f"WebAuthn origin {origin!r} is not on the RP ID {rp_id!r} or one of its subdomains.",
                    hint="Set MFA_WEBAUTHN_RP_ID and MFA_WEBAUTHN_ORIGINS (or MFA_PUBLIC_URL) to match.",
                    id="approver.E001",
                )
            )
        elif parts.scheme != "https" and host != "localhost" and not settings.DEBUG:
            problems.append(
                Warning(
                    f"WebAuthn origin {origin!r} is not https; browsers allow WebAuthn only on https or localhost.",
                    id="approver.W001",
                )
            )
    if settings.MFA_WEBAUTHN_ATTESTATION not in ATTESTATION_CHOICES:
        problems.append(Error(f"MFA_WEBAUTHN_ATTESTATION must be one of {ATTESTATION_CHOICES}.", id="approver.E002"))
    return problems


@register()
def webpush_config(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """A configured VAPID private key must load."""
    from devices.delivery.webpush import vapid_key

    if not settings.MFA_WEBPUSH_VAPID_PRIVATE_KEY:
        return []
    try:
        vapid_key()
    except Exception:  # any parse error of the operator's key material
        return [
            Error("MFA_WEBPUSH_VAPID_PRIVATE_KEY cannot be loaded (PEM or base64url raw P-256).", id="approver.E003")
        ]
    return []
