"""Enrolment, activation and life cycle of devices."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from devices.exceptions import ActivationCodeInvalidError, PublicKeyInvalidError
from devices.models import Device, Enrollment
from devices.proofs import load_public_key
from mfa_server import ratelimit
from mfa_server.crypto import encrypt_secret, hash_token, random_token
from tenants.models import Subscriber

ACTIVATION_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed by people
ACTIVATION_CODE_LENGTH = 20  # 100 bits


@dataclass(frozen=True)
class IssuedEnrollment:
    enrollment: Enrollment
    activation_code: str
    activation_url: str
    qr_url: str


@dataclass(frozen=True)
class ActivatedDevice:
    device: Device
    device_token: str


def _new_activation_code() -> str:
    return "".join(secrets.choice(ACTIVATION_CODE_ALPHABET) for _ in range(ACTIVATION_CODE_LENGTH))


def normalize_activation_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def activation_url(code: str) -> str:
    """The link a phone opens; the code sits in the fragment so it never reaches server logs."""
    return f"{settings.MFA_PUBLIC_URL.rstrip('/')}/approver/#activate={code}"


def enrollment_create(*, subscriber: Subscriber, created_by: str, ttl_seconds: int | None = None) -> IssuedEnrollment:
    """Issue a single-use activation code for ``subscriber``; only its keyed hash is stored."""
    code = _new_activation_code()
    ttl = ttl_seconds or settings.MFA_ACTIVATION_TTL_SECONDS
    enrollment = Enrollment.objects.create(
        subscriber=subscriber,
        code_hash=hash_token(code),
        expires_at=timezone.now() + timedelta(seconds=ttl),
        created_by=created_by,
    )
    audit_record(
        kind="enrollment.issued",
        tenant_id=subscriber.tenant_id,
        actor=created_by,
        subscriber_id=subscriber.pk,
        detail={"enrollment": enrollment.pk, "expires_at": enrollment.expires_at.isoformat()},
    )
    qr_token = quote(encrypt_secret(code), safe="")
    qr_url = f"{settings.MFA_PUBLIC_URL.rstrip('/')}{reverse('enrollment-qr')}?t={qr_token}"
    return IssuedEnrollment(enrollment=enrollment, activation_code=code, activation_url=activation_url(code), qr_url=qr_url)


def enrollment_expire(*, enrollment: Enrollment, actor: str) -> None:
    """Make an unused activation code unusable now."""
    updated = Enrollment.objects.filter(pk=enrollment.pk, used_at__isnull=True).update(expires_at=timezone.now())
    if updated:
        audit_record(
            kind="enrollment.expired",
            tenant_id=enrollment.subscriber.tenant_id,
            actor=actor,
            subscriber_id=enrollment.subscriber_id,
            detail={"enrollment": enrollment.pk},
        )


def device_activate(
    *, code: str, public_key_pem: str, name: str, platform: str, fcm_token: str = "", client_ip: str | None = None
) -> ActivatedDevice:
    """Consume an activation code and register the device key; returns the device API token (shown once).

    Raises ``RateLimitedError`` after too many wrong codes from one address, ``ActivationCodeInvalidError``
    for a wrong, used or expired code, ``PublicKeyInvalidError`` for a key that is not P-256.
    """
    ratelimit.check(
        scope="activate", key=client_ip or "-", limit=settings.MFA_ACTIVATION_FAILURES_PER_MINUTE, window_seconds=60
    )
    try:
        load_public_key(public_key_pem)
    except ValueError as exc:
        raise PublicKeyInvalidError() from exc
    now = timezone.now()
    code_hash = hash_token(normalize_activation_code(code))
    token = random_token()
    with transaction.atomic():
        # The conditional update consumes the code exactly once, even under concurrent activations.
        claimed = Enrollment.objects.filter(code_hash=code_hash, used_at__isnull=True, expires_at__gt=now).update(
            used_at=now
        )
        if claimed:
            device = _device_create_from_enrollment(
                code_hash=code_hash,
                public_key_pem=public_key_pem,
                token=token,
                name=name,
                platform=platform,
                fcm_token=fcm_token,
                client_ip=client_ip,
            )
    if not claimed:
        ratelimit.count_failure(scope="activate", key=client_ip or "-", window_seconds=60)
        audit_record(kind="device.activation_refused", tenant_id=None, ip=client_ip, detail={"reason": "code_invalid"})
        raise ActivationCodeInvalidError()
    return ActivatedDevice(device=device, device_token=token)


def _device_create_from_enrollment(
    *, code_hash: str, public_key_pem: str, token: str, name: str, platform: str, fcm_token: str, client_ip: str | None
) -> Device:
    enrollment = Enrollment.objects.select_related("subscriber").get(code_hash=code_hash)
    device = Device.objects.create(
        subscriber=enrollment.subscriber,
        name=name,
        platform=platform,
        public_key_pem=public_key_pem,
        token_hash=hash_token(token),
        fcm_token=fcm_token,
        last_seen_at=timezone.now(),
    )
    enrollment.device = device
    enrollment.save(update_fields=["device"])
    audit_record(
        kind="device.activated",
        tenant_id=enrollment.subscriber.tenant_id,
        actor=f"device:{device.pk}",
        subscriber_id=enrollment.subscriber_id,
        device_id=device.pk,
        ip=client_ip,
        detail={"enrollment": enrollment.pk, "platform": platform, "has_fcm_token": bool(fcm_token)},
    )
    return device


def device_revoke(*, device: Device, actor: str) -> bool:
    """Revoke a device; its token and key stop working at once. False when it was already revoked."""
    now = timezone.now()
    updated = Device.objects.filter(pk=device.pk, status=Device.Status.ACTIVE).update(
        status=Device.Status.REVOKED, revoked_at=now, fcm_token=""
    )
    if updated:
        audit_record(
            kind="device.revoked",
            tenant_id=device.subscriber.tenant_id,
            actor=actor,
            subscriber_id=device.subscriber_id,
            device_id=device.pk,
        )
    return bool(updated)


def device_update_push_token(*, device: Device, fcm_token: str) -> Device:
    """Replace the device's FCM registration token (tokens rotate)."""
    Device.objects.filter(pk=device.pk).update(fcm_token=fcm_token)
    device.fcm_token = fcm_token
    audit_record(
        kind="device.push_token_updated",
        tenant_id=device.subscriber.tenant_id,
        actor=f"device:{device.pk}",
        subscriber_id=device.subscriber_id,
        device_id=device.pk,
        detail={"has_fcm_token": bool(fcm_token)},
    )
    return device


def device_invalidate_push_token(*, device_id: int, fcm_token: str, reason: str) -> None:
    """Drop a token the push provider reported as unregistered, unless the device already replaced it."""
    updated = Device.objects.filter(pk=device_id, fcm_token=fcm_token).update(fcm_token="")
    if updated:
        device = Device.objects.select_related("subscriber").get(pk=device_id)
        audit_record(
            kind="device.push_token_dropped",
            tenant_id=device.subscriber.tenant_id,
            subscriber_id=device.subscriber_id,
            device_id=device_id,
            detail={"reason": reason},
        )

