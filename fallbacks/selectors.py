"""Reads of the fallback factors: what a subscriber can use, and the session codes a device may show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from approvals.models import Application, ApprovalRequest
from devices.models import Device
from fallbacks.models import BypassCode, DeviceTotp, OneTimeCode, PhoneNumber
from mfa_server.crypto import decrypt_secret
from policies.selectors import effective_policy
from tenants.models import Subscriber

Factor = ApprovalRequest.Factor


@dataclass(frozen=True)
class PreauthOptions:
    """Per-device capabilities and the subscriber's factors, both filtered and ordered by the policy."""

    capabilities: dict[int, tuple[str, ...]]
    factors: tuple[str, ...]


@dataclass(frozen=True)
class ActiveSessionCode:
    approval_id: str
    code: str
    expires_at: datetime
    application: str


def preauth_options(*, application: Application, subscriber: Subscriber, devices: Sequence[Device]) -> PreauthOptions:
    """What ``preauth`` may offer: a factor appears only if the policy allows it and the subscriber has it.

    push and session codes need an active device, passcodes a device with a provisioned TOTP secret,
    SMS a phone number on file, bypass codes a usable bypass code.
    """
    policy = effective_policy(application=application)
    with_totp = set(DeviceTotp.objects.filter(device__in=devices).values_list("device_id", flat=True))
    per_device = {
        device.pk: tuple(
            factor
            for factor in policy.factors
            if factor in (Factor.PUSH, Factor.SESSION_CODE) or (factor == Factor.PASSCODE and device.pk in with_totp)
        )
        for device in devices
    }
    available = {factor for caps in per_device.values() for factor in caps}
    if policy.allows(Factor.SMS) and PhoneNumber.objects.filter(subscriber=subscriber).exists():
        available.add(Factor.SMS)
    if policy.allows(Factor.BYPASS_CODE) and subscriber_has_bypass_codes(subscriber=subscriber):
        available.add(Factor.BYPASS_CODE)
    return PreauthOptions(
        capabilities=per_device, factors=tuple(factor for factor in policy.factors if factor in available)
    )


def subscriber_has_bypass_codes(*, subscriber: Subscriber) -> bool:
    return BypassCode.objects.filter(
        subscriber=subscriber, uses_left__gt=0, expires_at__gt=timezone.now(), revoked_at__isnull=True
    ).exists()


def session_codes_for_device(*, device: Device) -> list[ActiveSessionCode]:
    """Active session codes of the device's subscriber's pending transactions, newest first."""
    now = timezone.now()
    rows = (
        OneTimeCode.objects.select_related("approval__application")
        .filter(
            approval__subscriber_id=device.subscriber_id,
            approval__status=ApprovalRequest.Status.PENDING,
            approval__expires_at__gt=now,
            factor=OneTimeCode.Factor.SESSION_CODE,
            used_at__isnull=True,
            invalidated_at__isnull=True,
            expires_at__gt=now,
        )
        .exclude(code_encrypted="")
        .order_by("-created_at")
    )
    return [
        ActiveSessionCode(
            approval_id=str(row.approval_id),
            code=decrypt_secret(row.code_encrypted),
            expires_at=row.expires_at,
            application=row.approval.application.name,
        )
        for row in rows
    ]
