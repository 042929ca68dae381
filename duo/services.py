"""Writes of the Duo Auth API surface, mapped one to one onto our approval transactions.

A push started here is an ordinary ``ApprovalRequest`` (same audit, policy, admin and devices); this
module only translates Duo's parameters and Verified Push / plain push rules.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import services as approval_services
from approvals.models import Application, ApprovalRequest
from approvals.services import LoginContext
from audit.services import audit_record
from devices.models import Device
from devices.services import IssuedEnrollment, enrollment_create
from duo.exceptions import DuoInvalidParameterError, DuoVerifiedPushRequiredError
from duo.identifiers import device_pk_from
from duo.models import VerifiedPushOffer
from fallbacks import services as fallback_services
from fallbacks.exceptions import CodeAttemptsExceededError, CodeInvalidError
from policies.facts import RequestFacts
from policies.selectors import effective_policy
from tenants.models import Subscriber
from tenants.services import subscriber_get_or_create

VERIFIED_PUSH_OFFER_SECONDS = 60
VERIFIED_PUSH_HINT = (
    "verified push required: call /auth/v2/preauth with client_supports_verified_push=1, show its "
    "verification_code, then call /auth with its txid"
)


@dataclass(frozen=True)
class PushRequest:
    """A Duo ``/auth`` push, already validated."""

    username: str
    device: str
    txid: UUID | None
    ip: str | None
    hostname: str
    login_type: str
    display_username: str
    pushinfo: str
    facts: RequestFacts | None = None


def verified_push_fields(*, application: Application, username: str, request_digest: str | None) -> dict[str, Any]:
    """``txid`` / ``verification_code`` / ``expiration`` for a Verified-Push client, when policy needs numbers."""
    if not effective_policy(application=application).number_matching:
        return {}
    subscriber = Subscriber.objects.get(tenant_id=application.tenant_id, username=username)
    offer = verified_push_offer_create(application=application, subscriber=subscriber, request_digest=request_digest)
    return {"txid": str(offer.pk), "verification_code": offer.number, "expiration": int(offer.expires_at.timestamp())}


def verified_push_offer_create(
    *, application: Application, subscriber: Subscriber, request_digest: str | None
) -> VerifiedPushOffer:
    """The txid and verification code a Verified-Push client shows before ``/auth`` (valid 60 s).

    A replay of the same signed ``/preauth`` returns the same offer.
    """
    if request_digest:
        existing = VerifiedPushOffer.objects.filter(request_digest=request_digest, application=application).first()
        if existing:
            return existing
    now = timezone.now()
    digits = settings.MFA_NUMBER_MATCH_DIGITS
    try:
        with transaction.atomic():
            return VerifiedPushOffer.objects.create(
                application=application,
                subscriber=subscriber,
                number=str(secrets.randbelow(10**digits)).zfill(digits),
                request_digest=request_digest,
                created_at=now,
                expires_at=now + timedelta(seconds=VERIFIED_PUSH_OFFER_SECONDS),
            )
    except IntegrityError:
        return VerifiedPushOffer.objects.get(request_digest=request_digest, application=application)


def _display_text(push: PushRequest) -> str:
    """What the phone shows besides the app name: display_username, then the pushinfo pairs."""
    parts = [push.display_username] if push.display_username else []
    parts += [f"{k}: {v}" for k, v in parse_qsl(push.pushinfo, keep_blank_values=True)]
    text = "; ".join(parts)
    return text if len(text) <= 200 else text[:199] + "…"


def _check_device(*, application: Application, username: str, device: str) -> None:
    """``device`` is ``auto`` or the Duo id of one of the user's active phones (we notify all of them)."""
    if device == "auto":
        return
    pk = device_pk_from(device)
    if (
        pk is None
        or not Device.objects.filter(
            pk=pk,
            status=Device.Status.ACTIVE,
            subscriber__username=username,
            subscriber__tenant_id=application.tenant_id,
        ).exists()
    ):
        raise DuoInvalidParameterError(detail="device")


def duo_push_start(*, application: Application, push: PushRequest, request_digest: str | None) -> ApprovalRequest:
    """Start the push of a Duo ``/auth`` call; an identical retried request returns the same transaction.

    With a Verified Push ``txid`` the transaction takes that txid and code. Without one it is a plain push,
    allowed only when the policy does not require number matching or ``allow_plain_push`` is on (then it
    is audited as a weaker approval). Raises ``DuoVerifiedPushRequiredError``, ``DuoInvalidParameterError``,
    and approvals' ``SubscriberUnknownError`` / ``SubscriberDeniedError``.
    """
    if replayed := approval_services.approval_replayed(application=application, request_digest=request_digest):
        return replayed
    _check_device(application=application, username=push.username, device=push.device)
    context = LoginContext(
        ip=push.ip,
        hostname=push.hostname,
        display_text=_display_text(push),
        login_type=push.login_type or "Login",
    )
    if push.txid is not None:
        offer = _verified_push_offer_claim(application=application, username=push.username, txid=push.txid)
        return approval_services.approval_request_create(
            application=application,
            username=push.username,
            context=context,
            request_digest=request_digest,
            number_matching=True,
            approval_id=offer.id,
            number=offer.number,
            request_facts=push.facts,
        )
    policy = effective_policy(application=application)
    is_bypass = Subscriber.objects.filter(
        tenant_id=application.tenant_id, username=push.username, status=Subscriber.Status.BYPASS
    ).exists()
    if policy.number_matching and not policy.allow_plain_push and not is_bypass:  # bypass: nobody is pushed
        raise DuoVerifiedPushRequiredError(detail=VERIFIED_PUSH_HINT)
    approval = approval_services.approval_request_create(
        application=application,
        username=push.username,
        context=context,
        request_digest=request_digest,
        number_matching=False,
        request_facts=push.facts,
    )
    if policy.number_matching and not is_bypass:
        audit_record(
            kind="approval.plain_push",
            tenant_id=application.tenant_id,
            actor=f"app:{application.integration_key}",
            subscriber_id=approval.subscriber_id,
            approval_id=approval.pk,
            ip=push.ip,
            detail={"weaker": True, "reason": "client_without_verified_push", "via": "duo_auth_api"},
        )
    return approval


def _verified_push_offer_claim(*, application: Application, username: str, txid: UUID) -> VerifiedPushOffer:
    """Consume the unexpired offer ``txid`` made to this user; raises ``DuoInvalidParameterError`` (txid)."""
    now = timezone.now()
    offers = VerifiedPushOffer.objects.filter(
        pk=txid, application=application, subscriber__username=username, used_at__isnull=True, expires_at__gt=now
    )
    offer = offers.first()
    if offer is None or not offers.update(used_at=now):
        raise DuoInvalidParameterError(detail="txid")
    return offer


def duo_sms_start(
    *,
    application: Application,
    username: str,
    context: LoginContext,
    request_digest: str | None,
    request_facts: RequestFacts | None = None,
) -> ApprovalRequest:
    """Duo ``factor=sms``: start a transaction and text its code (fallbacks' limits and audit apply).

    The user then types the code as ``factor=passcode``. Raises fallbacks' ``FactorNotAllowedError``,
    ``FactorUnavailableError`` (no number), ``SmsRefusedError`` / ``SmsDeliveryError``, and approvals'
    subscriber errors.
    """
    return fallback_services.code_start(
        application=application,
        username=username,
        factor=ApprovalRequest.Factor.SMS,
        context=context,
        request_digest=request_digest,
        client_ip=context.ip,
        request_facts=request_facts,
    )


def duo_passcode_verify(
    *,
    application: Application,
    username: str,
    passcode: str,
    context: LoginContext,
    request_digest: str | None,
    request_facts: RequestFacts | None = None,
) -> ApprovalRequest | None:
    """Duo ``factor=passcode``: the code of this user's pending SMS transaction if one is outstanding, else a
    device TOTP passcode or a bypass code. Returns the decided transaction (``denied`` for a wrong code), or
    None for a wrong SMS code that leaves the SMS transaction open.

    Raises fallbacks' ``FactorNotAllowedError``, ``FallbackBackoffError``, ``CodeExpiredError`` and approvals'
    subscriber errors.
    """
    if replayed := approval_services.approval_replayed(application=application, request_digest=request_digest):
        return replayed
    sms_pending = (
        ApprovalRequest.objects.select_related("application", "subscriber")
        .filter(
            application=application,
            subscriber__username=username,
            subscriber__tenant_id=application.tenant_id,
            factor=ApprovalRequest.Factor.SMS,
            status=ApprovalRequest.Status.PENDING,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .first()
    )
    if sms_pending is None:
        return fallback_services.passcode_verify(
            application=application,
            username=username,
            passcode=passcode,
            context=context,
            request_digest=request_digest,
            client_ip=context.ip,
            request_facts=request_facts,
        )
    try:
        return fallback_services.code_verify(approval=sms_pending, code=passcode, client_ip=context.ip)
    except (CodeInvalidError, CodeAttemptsExceededError):
        # A wrong SMS code: Duo answers this call with deny; the code stays usable until its attempts run out.
        return None


def duo_enroll(
    *, application: Application, username: str | None, valid_secs: int
) -> tuple[Subscriber, IssuedEnrollment]:
    """Create the user if needed and issue a single-use activation code valid ``valid_secs`` seconds."""
    if username is None:
        username = "user-" + secrets.token_hex(6)
    subscriber = subscriber_get_or_create(tenant=application.tenant, username=username)
    ttl = min(valid_secs, settings.MFA_ACTIVATION_TTL_SECONDS)
    issued = enrollment_create(subscriber=subscriber, created_by=f"app:{application.integration_key}", ttl_seconds=ttl)
    return subscriber, issued
