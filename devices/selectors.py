"""Reads on devices."""

from __future__ import annotations

from audit.services import audit_record
from devices.exceptions import DeviceRevokedError
from devices.models import Device
from mfa_server.crypto import hash_token
from mfa_server.errors import NotAuthenticatedError


def device_for_token(*, token: str, client_ip: str | None = None) -> Device:
    """The active device holding this API token.

    Raises ``NotAuthenticatedError`` for an unknown token and ``DeviceRevokedError`` (audited) for a revoked one.
    """
    try:  # get(), not first(): the hash is unique, so no ORDER BY to build and run
        device = Device.objects.select_related("subscriber__tenant").get(token_hash=hash_token(token))
    except Device.DoesNotExist:
        raise NotAuthenticatedError() from None
    if not device.is_active:
        audit_record(
            kind="device.revoked_refused",
            tenant_id=device.subscriber.tenant_id,
            actor=f"device:{device.pk}",
            subscriber_id=device.subscriber_id,
            device_id=device.pk,
            ip=client_ip,
        )
        raise DeviceRevokedError()
    return device
