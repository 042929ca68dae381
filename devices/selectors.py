"""Reads on devices."""

from __future__ import annotations

from uuid import UUID

from django.core.cache import cache
from django.utils import timezone

from approvals.models import ApprovalRequest
from devices.exceptions import DeviceRevokedError
from devices.models import Device, Enrollment
from devices.services import device_audit, device_seen, normalize_activation_code
from mfa_server.crypto import hash_token
from mfa_server.errors import NotAuthenticatedError
from mfa_server.rows import row_get_with, row_get_with_beside
from tenants.selectors import subscriber_with_tenant

REVOKED_AUDIT_INTERVAL_SECONDS = 60


def device_for_token(*, token: str, client_ip: str | None = None, approval_id: UUID | None = None) -> Device:
    """The active device holding this API token (or session cookie), now marked as seen.

    Raises ``NotAuthenticatedError`` for an unknown token and ``DeviceRevokedError`` for a revoked one,
    audited at most once a minute per device so a stale token cannot flood the audit chain. With
    ``approval_id`` (a call about one transaction) that transaction's row comes in the same read, whoever
    it belongs to, kept for ``approval_of_device`` (which checks the owner) as ``device.request_cache``.
    """
    # Every device request starts here: one joined read, no query compiler.
    token_hash, approval = hash_token(token), None
    if approval_id is None:
        device = row_get_with(Device, "subscriber", token_hash=token_hash)
    else:
        device, approval = row_get_with_beside(
            Device, "subscriber", ApprovalRequest, approval_id, token_hash=token_hash
        )
    if device is None:
        raise NotAuthenticatedError()
    subscriber_with_tenant(device.subscriber)
    if not device.is_active:
        if cache.add(f"audit:device-revoked-refused:{device.pk}", 1, timeout=REVOKED_AUDIT_INTERVAL_SECONDS):
            device_audit(device, "device.revoked_refused", actor=f"device:{device.pk}", ip=client_ip)
        raise DeviceRevokedError()
    device_seen(device)
    if approval_id is not None:
        device.request_cache = {"approval": (approval_id, approval)}
    return device


def enrollment_code_is_pending(*, code: str) -> bool:
    """Whether this activation code would still be accepted (unused, unexpired)."""
    code_hash = hash_token(normalize_activation_code(code))
    return Enrollment.objects.filter(code_hash=code_hash, used_at__isnull=True, expires_at__gt=timezone.now()).exists()
