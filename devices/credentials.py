"""WebAuthn ceremonies of the approver web app: server-side challenges and credential assertions.

Challenges live in the database (``WebAuthnChallenge``): random, short-lived, bound to what they
authorise, and consumed with one conditional UPDATE *before* the response is verified, so a challenge
is good for one attempt even when that attempt fails.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devices import webauthn
from devices.models import Device, Enrollment, WebAuthnChallenge, WebAuthnCredential
from mfa_server.errors import DomainError

logger = logging.getLogger(__name__)
Purpose = WebAuthnChallenge.Purpose


class WebAuthnChallengeInvalidError(DomainError):
    code = "webauthn_challenge_invalid"
    default_message = "This request has expired or was already used; please try again."


class NotWebAuthnDeviceError(DomainError):
    code = "not_webauthn_device"
    http_status = 403
    default_message = "This device has no WebAuthn credential."


class WebAuthnRequiredError(DomainError):
    code = "webauthn_required"
    http_status = 403
    default_message = "Approving needs your fingerprint or face check."


class WebAuthnCredentialExistsError(DomainError):
    code = "webauthn_credential_exists"
    http_status = 409
    default_message = "This authenticator is already registered."


def relying_party() -> webauthn.RelyingParty:
    """The WebAuthn relying party from settings (read lazily so tests can override it)."""
    return webauthn.RelyingParty(
        rp_id=settings.MFA_WEBAUTHN_RP_ID,
        name=settings.MFA_WEBAUTHN_RP_NAME,
        origins=tuple(settings.MFA_WEBAUTHN_ORIGINS),
    )


def challenge_issue(
    *,
    purpose: str,
    enrollment: Enrollment | None = None,
    device: Device | None = None,
    approval_id: UUID | None = None,
    decision: str = "",
) -> bytes:
    """Store a fresh 32-byte challenge bound to its purpose; returns the raw challenge."""
    raw = secrets.token_bytes(32)
    WebAuthnChallenge.objects.create(
        challenge=webauthn.challenge_to_b64url(raw),
        purpose=purpose,
        enrollment=enrollment,
        device=device,
        approval_id=approval_id,
        decision=decision,
        expires_at=timezone.now() + timedelta(seconds=settings.MFA_WEBAUTHN_CHALLENGE_TTL_SECONDS),
    )
    # Expired challenges are garbage; drop them now and then instead of needing a worker.
    if secrets.randbelow(50) == 0:
        WebAuthnChallenge.objects.filter(expires_at__lt=timezone.now() - timedelta(hours=1)).delete()
    return raw


def challenge_consume(*, credential: Any, purpose: str, **binding: Any) -> bytes:
    """Use up the challenge the response answers, if it is ours, unused, unexpired and bound to ``binding``.

    Returns the stored challenge for verification. Raises ``WebAuthnChallengeInvalidError`` otherwise.
    """
    challenge = webauthn.client_data_challenge(credential)
    if challenge is None:
        raise WebAuthnChallengeInvalidError()
    claimed = WebAuthnChallenge.objects.filter(
        challenge=webauthn.challenge_to_b64url(challenge),
        purpose=purpose,
        used_at__isnull=True,
        expires_at__gt=timezone.now(),
        **binding,
    ).update(used_at=timezone.now())
    if not claimed:
        raise WebAuthnChallengeInvalidError()
    return challenge


def credential_of(device: Device) -> WebAuthnCredential:
    """The device's WebAuthn credential; raises ``NotWebAuthnDeviceError`` for app-key devices."""
    credential = WebAuthnCredential.objects.filter(device_id=device.pk).first()
    if device.kind != Device.Kind.WEBAUTHN or credential is None:
        raise NotWebAuthnDeviceError()
    return credential


def assertion_options(
    *, device: Device, approval_id: UUID | None, decision: str, purpose: str = Purpose.DECIDE
) -> dict[str, Any]:
    """Request options whose challenge is bound to this device, transaction (if any) and decision / action."""
    credential = credential_of(device)
    challenge = challenge_issue(purpose=purpose, device=device, approval_id=approval_id, decision=decision)
    return webauthn.authentication_options(
        rp=relying_party(),
        challenge=challenge,
        credential_id=credential.credential_id,
        transports=list(credential.transports),
    )


def assertion_verify(
    *, device: Device, credential: Any, approval_id: UUID | None, decision: str, purpose: str = Purpose.DECIDE
) -> webauthn.VerifiedAssertion:
    """Verify a decision assertion: bound challenge (single use), this device's credential, UV, sign count.

    The new sign count is stored with a conditional update on the old one, so two concurrent uses of
    the same counter value cannot both pass. Raises ``WebAuthnChallengeInvalidError``,
    ``WebAuthnVerificationError`` or ``NotWebAuthnDeviceError``.
    """
    stored = credential_of(device)
    expected = challenge_consume(
        credential=credential, purpose=purpose, device=device, approval_id=approval_id, decision=decision
    )
    verified = webauthn.verify_assertion(
        rp=relying_party(),
        credential=credential,
        expected_challenge=expected,
        credential_id=stored.credential_id,
        public_key=bytes(stored.public_key),
        sign_count=stored.sign_count,
    )
    with transaction.atomic():
        moved = WebAuthnCredential.objects.filter(pk=stored.pk, sign_count=stored.sign_count).update(
            sign_count=verified.new_sign_count, backed_up=verified.backed_up, last_used_at=timezone.now()
        )
    if not moved:
        raise webauthn.WebAuthnVerificationError()
    return verified
