"""Enrolment, activation and life cycle of devices."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_append, audit_event, audit_record
from devices import credentials, webauthn
from devices.exceptions import ActivationCodeInvalidError, PublicKeyInvalidError
from devices.live import broadcast_to_devices
from devices.models import Device, Enrollment, WebAuthnCredential
from devices.proofs import load_public_key
from mfa_server import ratelimit
from mfa_server.crypto import encrypt_secret, hash_token, random_token
from mfa_server.errors import DomainError
from tenants.models import Subscriber

ACTIVATION_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed by people
ACTIVATION_CODE_LENGTH = 20  # 100 bits


def device_audit(device: Device, kind: str, **what: Any) -> None:
    """Audit an event about one device (``device_audit_event``'s arguments), filed under its subscriber and tenant."""
    audit_append(device_audit_event(device, kind, **what))


def device_audit_event(
    device: Device,
    kind: str,
    *,
    actor: str = "",
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
    approval_id: UUID | None = None,
) -> AuditEvent:
    """An event about one device (and the approval it acted on), unsaved: ``device_audit`` appends it."""
    return audit_event(
        kind=kind,
        tenant_id=device.subscriber.tenant_id,
        actor=actor,
        subscriber_id=device.subscriber_id,
        device_id=device.pk,
        approval_id=approval_id,
        ip=ip,
        detail=detail,
    )


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
    return IssuedEnrollment(
        enrollment=enrollment, activation_code=code, activation_url=activation_url(code), qr_url=qr_url
    )


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
    _activation_rate_check(client_ip)
    try:
        load_public_key(public_key_pem)
    except ValueError as exc:
        raise PublicKeyInvalidError() from exc
    return _enrollment_consume(
        code=code,
        client_ip=client_ip,
        device_fields={
            "kind": Device.Kind.APP_KEY,
            "name": name,
            "platform": platform,
            "public_key_pem": public_key_pem,
            "fcm_token": fcm_token,
        },
    )


def device_registration_begin(
    *, code: str, client_ip: str | None = None, connection_check: Callable[[Enrollment], None] | None = None
) -> tuple[Enrollment, dict[str, Any]]:
    """Step 1 of activating the approver web app: WebAuthn creation options for a valid code.

    The code is checked (and a wrong one counted like a failed activation) but not consumed; the
    challenge is bound to the enrolment. ``connection_check(enrollment)`` may refuse the connection for
    the enrolment's tenant (policy locks) before anything is issued. Raises ``RateLimitedError``,
    ``ActivationCodeInvalidError`` and whatever ``connection_check`` raises.
    """
    _activation_rate_check(client_ip)
    enrollment = _enrollment_pending(code=code, client_ip=client_ip)
    if connection_check is not None:
        connection_check(enrollment)
    subscriber = enrollment.subscriber
    challenge = credentials.challenge_issue(purpose=credentials.Purpose.REGISTER, enrollment=enrollment)
    options = webauthn.registration_options(
        rp=credentials.relying_party(),
        user_id=secrets.token_bytes(16),
        user_name=subscriber.username,
        user_display_name=subscriber.display_name or subscriber.username,
        challenge=challenge,
        exclude_credential_ids=list(
            WebAuthnCredential.objects.filter(
                device__subscriber=subscriber, device__status=Device.Status.ACTIVE
            ).values_list("credential_id", flat=True)
        ),
        attestation=settings.MFA_WEBAUTHN_ATTESTATION,
    )
    return enrollment, options


def device_activate_webauthn(
    *,
    code: str,
    credential: Any,
    name: str,
    platform: str = "web",
    client_ip: str | None = None,
    connection_check: Callable[[Enrollment], None] | None = None,
) -> ActivatedDevice:
    """Step 2: verify the new platform credential (UV required), then consume the code and create the device.

    The code is consumed only when the registration verifies. Raises ``RateLimitedError``,
    ``ActivationCodeInvalidError``, ``WebAuthnChallengeInvalidError``, ``WebAuthnVerificationError`` and
    ``WebAuthnCredentialExistsError``; refusals are audited.
    """
    _activation_rate_check(client_ip)
    enrollment = _enrollment_pending(code=code, client_ip=client_ip)
    if connection_check is not None:
        connection_check(enrollment)
    try:
        expected = credentials.challenge_consume(
            credential=credential, purpose=credentials.Purpose.REGISTER, enrollment=enrollment
        )
        registered = webauthn.verify_registration(
            rp=credentials.relying_party(), credential=credential, expected_challenge=expected
        )
    except DomainError as exc:
        audit_record(
            kind="device.activation_refused",
            tenant_id=enrollment.subscriber.tenant_id,
            subscriber_id=enrollment.subscriber_id,
            ip=client_ip,
            detail={"reason": exc.code},
        )
        raise
    keep_attestation = settings.MFA_WEBAUTHN_ATTESTATION != "none"

    def store_credential(device: Device) -> None:
        WebAuthnCredential.objects.create(
            device=device,
            credential_id=registered.credential_id,
            public_key=registered.public_key,
            sign_count=registered.sign_count,
            aaguid=registered.aaguid,
            transports=list(registered.transports),
            attestation_format=registered.attestation_format,
            attestation_object=registered.attestation_object if keep_attestation else None,
            backup_eligible=registered.backup_eligible,
            backed_up=registered.backed_up,
        )

    try:
        return _enrollment_consume(
            code=code,
            client_ip=client_ip,
            device_fields={"kind": Device.Kind.WEBAUTHN, "name": name, "platform": platform},
            after_create=store_credential,
        )
    except IntegrityError as exc:  # the credential id is already stored: the whole activation rolled back
        raise credentials.WebAuthnCredentialExistsError() from exc


def _activation_rate_check(client_ip: str | None) -> None:
    ratelimit.check(
        scope="activate", key=client_ip or "-", limit=settings.MFA_ACTIVATION_FAILURES_PER_MINUTE, window_seconds=60
    )


def _activation_refused(client_ip: str | None) -> ActivationCodeInvalidError:
    ratelimit.count_failure(scope="activate", key=client_ip or "-", window_seconds=60)
    audit_record(kind="device.activation_refused", tenant_id=None, ip=client_ip, detail={"reason": "code_invalid"})
    return ActivationCodeInvalidError()


def _enrollment_pending(*, code: str, client_ip: str | None) -> Enrollment:
    """The unused, unexpired enrolment of ``code``; a wrong code is counted and audited."""
    code_hash = hash_token(normalize_activation_code(code))
    enrollment = (
        Enrollment.objects.select_related("subscriber__tenant")
        .filter(code_hash=code_hash, used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if enrollment is None:
        raise _activation_refused(client_ip)
    return enrollment


def _enrollment_consume(
    *,
    code: str,
    client_ip: str | None,
    device_fields: dict[str, Any],
    after_create: Callable[[Device], None] | None = None,
) -> ActivatedDevice:
    """Consume the activation code and create the device in one transaction; returns its API token."""
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
                code_hash=code_hash, token=token, client_ip=client_ip, device_fields=device_fields
            )
            if after_create is not None:
                after_create(device)
    if not claimed:
        raise _activation_refused(client_ip)
    return ActivatedDevice(device=device, device_token=token)


def _device_create_from_enrollment(
    *, code_hash: str, token: str, client_ip: str | None, device_fields: dict[str, Any]
) -> Device:
    enrollment = Enrollment.objects.select_related("subscriber").get(code_hash=code_hash)
    device = Device.objects.create(
        subscriber=enrollment.subscriber, token_hash=hash_token(token), last_seen_at=timezone.now(), **device_fields
    )
    enrollment.device = device
    enrollment.save(update_fields=["device"])
    device_audit(
        device,
        "device.activated",
        actor=f"device:{device.pk}",
        ip=client_ip,
        detail={
            "enrollment": enrollment.pk,
            "kind": device.kind,
            "platform": device.platform,
            "has_fcm_token": bool(device.fcm_token),
        },
    )
    return device


LAST_SEEN_RESOLUTION_SECONDS = 60


def device_seen(device: Device) -> None:
    """Record that the device used its session, at most one write a minute per device."""
    now = timezone.now()
    if device.last_seen_at is None or (now - device.last_seen_at).total_seconds() > LAST_SEEN_RESOLUTION_SECONDS:
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
        device.last_seen_at = now


def device_revoke(*, device: Device, actor: str) -> bool:
    """Revoke a device; its token and key stop working at once. False when it was already revoked."""
    now = timezone.now()
    updated = Device.objects.filter(pk=device.pk, status=Device.Status.ACTIVE).update(
        status=Device.Status.REVOKED, revoked_at=now, fcm_token="", webpush_subscription={}
    )
    if updated:
        device_audit(device, "device.revoked", actor=actor)
        event = {"type": "device.revoked"}
        transaction.on_commit(lambda: broadcast_to_devices([device.pk], event))
    return bool(updated)


def device_update_push_token(*, device: Device, fcm_token: str) -> Device:
    """Replace the device's FCM registration token (tokens rotate)."""
    Device.objects.filter(pk=device.pk).update(fcm_token=fcm_token)
    device.fcm_token = fcm_token
    device_audit(
        device, "device.push_token_updated", actor=f"device:{device.pk}", detail={"has_fcm_token": bool(fcm_token)}
    )
    return device


def device_remove_with_assertion(*, device: Device, credential: Any, client_ip: str | None = None) -> bool:
    """The user removes their own WebAuthn device: weakening MFA needs a fresh UV assertion (single use).

    Raises ``WebAuthnChallengeInvalidError``, ``WebAuthnVerificationError`` or ``NotWebAuthnDeviceError``
    (audited as ``device.remove_refused``); returns what ``device_revoke`` returns.
    """
    try:
        credentials.assertion_verify(
            device=device,
            credential=credential,
            approval_id=None,
            decision="remove",
            purpose=credentials.Purpose.MANAGE,
        )
    except DomainError as exc:
        device_audit(
            device, "device.remove_refused", actor=f"device:{device.pk}", ip=client_ip, detail={"reason": exc.code}
        )
        raise
    return device_revoke(device=device, actor=f"device:{device.pk}")


def device_rename(*, device: Device, name: str) -> Device:
    """Give the device a name its user recognises (shown in admin and in the device list)."""
    Device.objects.filter(pk=device.pk).update(name=name)
    device_audit(device, "device.renamed", actor=f"device:{device.pk}", detail={"from": device.name, "to": name})
    device.name = name
    return device


def device_set_webpush_subscription(*, device: Device, subscription: dict[str, Any]) -> Device:
    """Store (or, with ``{}``, drop) the approver web app's Web Push subscription."""
    Device.objects.filter(pk=device.pk).update(webpush_subscription=subscription)
    device.webpush_subscription = subscription
    device_audit(
        device, "device.webpush_updated", actor=f"device:{device.pk}", detail={"subscribed": bool(subscription)}
    )
    return device


def device_drop_webpush_subscription(*, device_id: int, endpoint: str, reason: str) -> None:
    """Forget a subscription the push service reported gone (404/410), unless it was replaced meanwhile."""
    updated = Device.objects.filter(pk=device_id, webpush_subscription__endpoint=endpoint).update(
        webpush_subscription={}
    )
    if updated:
        device = Device.objects.select_related("subscriber").get(pk=device_id)
        device_audit(device, "device.webpush_dropped", detail={"reason": reason})


def device_invalidate_push_token(*, device_id: int, fcm_token: str, reason: str) -> None:
    """Drop a token the push provider reported as unregistered, unless the device already replaced it."""
    updated = Device.objects.filter(pk=device_id, fcm_token=fcm_token).update(fcm_token="")
    if updated:
        device = Device.objects.select_related("subscriber").get(pk=device_id)
        device_audit(device, "device.push_token_dropped", detail={"reason": reason})
