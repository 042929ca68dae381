"""Writes on applications and approval transactions: create, decide, cancel, expire.

Every state change is one conditional UPDATE ``WHERE status = 'pending'``: whoever changes the row
wins, everyone else is told the request was already decided. Terminal states never change.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from approvals.applications import application_cached
from approvals.exceptions import (
    ApprovalAlreadyDecidedError,
    ApprovalExpiredError,
    ApprovalNotFoundError,
    NumberMismatchError,
    ProofInvalidError,
    ProofReusedError,
    ProofStaleError,
    SubscriberDeniedError,
    SubscriberUnknownError,
)
from approvals.models import Application, ApprovalRequest, UsedProof
from approvals.notify import notify_devices_of_decision, notify_devices_of_request
from approvals.pending_end import pending_request_end, pending_request_end_with_proof, proof_insert_sql
from approvals.waiting import announce_ended
from approvals.webhooks import webhook_enqueue
from audit.services import audit_append, audit_event, audit_record
from devices.credentials import NotWebAuthnDeviceError, WebAuthnRequiredError, assertion_verify
from devices.models import Device
from devices.proofs import canonical_payload, verify_signature
from devices.services import device_audit, device_audit_event
from mfa_server.crypto import encrypt_secret, tokens_equal
from mfa_server.errors import DomainError
from mfa_server.rows import row_get, row_get_owned, rows_insert_together, value_to_db
from policies.engine import Phase
from policies.facts import RequestFacts
from policies.services import (
    Evaluation,
    policy_consider,
    policy_enforce_approval,
    policy_may_refuse_approval,
    policy_refusal_record,
    raise_for,
)
from tenants.models import Subscriber, Tenant
from tenants.services import subscriber_lock

Status = ApprovalRequest.Status
DECISION_STATUS = {"approve": Status.APPROVED, "deny": Status.DENIED, "fraud": Status.FRAUD}
_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class LoginContext:
    """What the relying service tells us about the login being approved."""

    ip: str | None = None
    hostname: str = ""
    user_agent: str = ""
    display_text: str = ""
    login_type: str = ""


@dataclass(frozen=True)
class IssuedApplication:
    application: Application
    secret_key: str


def relying_result(status: str) -> str:
    """The answer a relying service acts on: allow, deny, or waiting."""
    if status == Status.APPROVED:
        return "allow"
    return "waiting" if status == Status.PENDING else "deny"


# --- applications --------------------------------------------------------------------------


def _new_secret_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def application_create(
    *,
    tenant: Tenant,
    name: str,
    callback_url: str = "",
    approval_timeout_seconds: int | None = None,
    is_active: bool = True,
    actor: str = "",
) -> IssuedApplication:
    """Create a relying service with Duo-shaped credentials; the secret is returned once and stored encrypted."""
    secret = _new_secret_key()
    integration_key = "DI" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))
    application = Application.objects.create(
        tenant=tenant,
        name=name,
        integration_key=integration_key,
        secret_encrypted=encrypt_secret(secret),
        callback_url=callback_url,
        approval_timeout_seconds=approval_timeout_seconds or settings.MFA_APPROVAL_TIMEOUT_SECONDS,
        is_active=is_active,
    )
    audit_record(kind="application.created", tenant_id=tenant.pk, actor=actor, detail={"ikey": integration_key})
    return IssuedApplication(application=application, secret_key=secret)


def application_rotate_secret(*, application: Application, actor: str) -> str:
    """Replace the secret key; the old one stops working at once. Returns the new secret (shown once)."""
    secret = _new_secret_key()
    application.secret_encrypted = encrypt_secret(secret)
    application.save(update_fields=["secret_encrypted"])  # the save signal makes every worker reload it
    audit_record(
        kind="application.secret_rotated",
        tenant_id=application.tenant_id,
        actor=actor,
        detail={"ikey": application.integration_key},
    )
    return secret


# --- creating a transaction -------------------------------------------------------------------


def subscriber_may_log_in(subscriber: Subscriber | None) -> Subscriber:
    """``subscriber`` unless unknown (``SubscriberUnknownError``), disabled or locked (``SubscriberDeniedError``)."""
    if subscriber is None:
        raise SubscriberUnknownError()
    if subscriber.is_blocked:
        raise SubscriberDeniedError(reason=subscriber.status)
    return subscriber


def approval_request_create(
    *,
    application: Application,
    username: str,
    context: LoginContext,
    request_digest: str | None = None,
    number_matching: bool | None = None,
    approval_id: UUID | None = None,
    number: str | None = None,
    request_facts: RequestFacts | None = None,
) -> ApprovalRequest:
    """Start a push approval and notify the subscriber's devices.

    Timeout and number matching come from the application's effective policy; ``number_matching=False``
    asks for a plain push (the caller must have checked the policy allows it).
    A replay of the same signed request (same ``request_digest``) returns the transaction it created.
    Bypass subscribers get an immediately approved transaction. Raises ``SubscriberUnknownError`` /
    ``SubscriberDeniedError`` when nobody can approve. ``approval_id`` / ``number`` preset the txid and the
    number to match when a client showed them before the push (Duo Verified Push).
    """
    # The policy decides before any factor is used; refusals raise policy_denied / push_rate_limited (audited).
    # Its evaluation loaded the subscriber and their active devices: they are who is asked and who is woken.
    evaluation = policy_consider(
        application=application, username=username, facts=request_facts, phase=Phase.PUSH, end_user_ip=context.ip
    )
    try:
        subscriber = _subscriber_to_ask(evaluation)
    except DomainError:
        # A replay returns what the original created, even if the policy or the user changed since; a fresh
        # request that is accepted finds its replays at the insert below (its unique digest), for free.
        if replayed := approval_replayed(application=application, request_digest=request_digest):
            return replayed
        policy_refusal_record(evaluation, application=application, phase=Phase.PUSH)
        raise
    is_bypass = subscriber.status == Subscriber.Status.BYPASS
    policy = evaluation.policy
    if number_matching is None:
        number_matching = policy.number_matching
    now = timezone.now()
    fields: dict[str, Any] = {
        "id": approval_id or uuid4(),
        "application": application,
        "subscriber": subscriber,
        "number": (number or _number_to_match()) if number_matching else "",
        "ip": context.ip,
        "hostname": context.hostname,
        "user_agent": context.user_agent,
        "display_text": context.display_text,
        "login_type": context.login_type,
        "policy_rule": evaluation.decision.rule,
        "request_digest": request_digest,
        "created_at": now,
        "expires_at": now + timedelta(seconds=policy.approval_timeout_seconds),
    }
    if is_bypass:
        fields.update(status=Status.APPROVED, status_reason="bypass", decided_at=now, number="")
    approval = ApprovalRequest(**fields)
    created = audit_event(
        kind="approval.bypassed" if is_bypass else "approval.created",
        tenant_id=application.tenant_id,
        actor=f"app:{application.integration_key}",
        subscriber_id=subscriber.pk,
        approval_id=approval.pk,
        ip=context.ip,
        detail={"factor": approval.factor, "hostname": context.hostname, "type": context.login_type},
    )
    try:
        rows_insert_together(approval, created)
    except IntegrityError:
        # A concurrent replay of the same signed request won the insert (else the error stands).
        if replayed := approval_replayed(application=application, request_digest=request_digest):
            return replayed
        raise
    if not is_bypass:  # after commit (at once, unless the caller holds a transaction)
        targets = [(device.pk, device.fcm_token, device.webpush_subscription) for device in evaluation.devices]
        notify_devices_of_request(approval=approval, targets=targets)
    return approval


def _subscriber_to_ask(evaluation: Evaluation) -> Subscriber:
    """Whom the push goes to; raises the refusal (policy, unknown or blocked user, no device) otherwise."""
    raise_for(evaluation.decision)
    subscriber = subscriber_may_log_in(evaluation.subscriber)
    if subscriber.status != Subscriber.Status.BYPASS and not evaluation.devices:
        raise SubscriberUnknownError()
    return subscriber


def approval_replayed(*, application: Application, request_digest: str | None) -> ApprovalRequest | None:
    """The transaction this very signed request (its digest) created before, if any."""
    if not request_digest:
        return None
    return row_get_owned(ApprovalRequest, "application_id", application.pk, request_digest=request_digest)


def _number_to_match() -> str:
    digits = settings.MFA_NUMBER_MATCH_DIGITS
    return str(secrets.randbelow(10**digits)).zfill(digits)


# --- deciding ---------------------------------------------------------------------------------


def approval_request_decide(
    *,
    device: Device,
    approval_id: UUID,
    decision: str,
    number: str,
    timestamp: int,
    signature: str,
    client_ip: str | None = None,
) -> ApprovalRequest:
    """Apply a device's signed approve / deny / fraud decision, exactly once.

    Raises ``ApprovalNotFoundError`` (not this subscriber's), ``ProofStaleError``, ``ProofInvalidError``,
    ``ProofReusedError``, ``ApprovalExpiredError``, ``ApprovalAlreadyDecidedError``, and
    ``NumberMismatchError`` (the request is denied and the failure counted). Every refusal is audited.
    """
    approval = _approval_to_decide(device=device, approval_id=approval_id, decision=decision, client_ip=client_ip)
    refuse = _decision_refuser(approval=approval, device=device, decision=decision, client_ip=client_ip)
    now = timezone.now()
    if abs(now.timestamp() - timestamp) > settings.MFA_PROOF_SKEW_SECONDS:
        raise refuse(ProofStaleError(), "proof_stale")
    payload = canonical_payload(approval_id=str(approval.pk), decision=decision, number=number, timestamp=timestamp)
    if not verify_signature(public_key_pem=device.public_key_pem, payload=payload, signature_b64=signature):
        raise refuse(ProofInvalidError(), "proof_invalid")
    # Digest of what was signed (not of the malleable ECDSA signature), consumed even if the decision fails.
    digest = hashlib.sha256(f"{device.pk}\n".encode() + payload).hexdigest()
    return _decision_apply(
        approval=approval,
        device=device,
        decision=decision,
        number=number,
        now=now,
        client_ip=client_ip,
        refuse=refuse,
        proof_digest=digest,
    )


def proof_consume(digest: str) -> bool:
    """Record a device proof as used; False when it already was. Never aborts the surrounding transaction."""
    with connection.cursor() as cursor:
        used_at = value_to_db(UsedProof._meta.get_field("created_at"), timezone.now())
        cursor.execute(proof_insert_sql(), [digest, used_at])
        return cursor.rowcount == 1


@contextmanager
def _atomic_keeping_refusals() -> Iterator[None]:
    """One transaction that also commits when the block raises a ``DomainError``, then re-raises it.

    A refused decision still consumes its proof and keeps what it recorded (audit, policy rule).
    """
    refusal: DomainError | None = None
    with transaction.atomic():
        try:
            yield
        except DomainError as exc:
            refusal = exc
    if refusal is not None:
        raise refusal


def approval_request_decide_webauthn(
    *,
    device: Device,
    approval_id: UUID,
    decision: str,
    number: str,
    credential: dict[str, Any] | None,
    client_ip: str | None = None,
) -> ApprovalRequest:
    """Apply a decision from the approver web app, exactly once, with the same number and lockout rules.

    Approving needs a WebAuthn assertion (UV, this device's credential, a fresh single-use challenge bound
    to this transaction and decision, an increasing sign count); deny and fraud may come with the device
    session alone, and are checked the same way when an assertion is given. Raises what
    ``approval_request_decide`` raises, plus ``NotWebAuthnDeviceError``, ``WebAuthnRequiredError``,
    ``WebAuthnChallengeInvalidError`` and ``WebAuthnVerificationError``; every refusal is audited.
    """
    approval = _approval_to_decide(device=device, approval_id=approval_id, decision=decision, client_ip=client_ip)
    refuse = _decision_refuser(approval=approval, device=device, decision=decision, client_ip=client_ip)
    if device.kind != Device.Kind.WEBAUTHN:  # app-key devices decide with their signed proofs only
        raise refuse(NotWebAuthnDeviceError(), "not_webauthn_device")
    if credential is None:
        if decision == "approve":
            raise refuse(WebAuthnRequiredError(), "webauthn_required")
    else:
        try:
            assertion_verify(device=device, credential=credential, approval_id=approval.pk, decision=decision)
        except DomainError as exc:
            raise refuse(exc, exc.code) from None
    return _decision_apply(
        approval=approval,
        device=device,
        decision=decision,
        number=number,
        now=timezone.now(),
        client_ip=client_ip,
        refuse=refuse,
    )


def approval_of_device(*, device: Device, approval_id: UUID) -> ApprovalRequest:
    """A transaction of the device's subscriber (any state), with its application and subscriber attached
    without a join; another subscriber's transaction does not exist here (``ApprovalNotFoundError``)."""
    loaded_id, approval = getattr(device, "request_cache", {}).pop("approval", (None, None))
    if loaded_id != approval_id:  # not read with the device (``device_for_token``)
        approval = row_get(ApprovalRequest, pk=approval_id)
    if approval is None or approval.subscriber_id != device.subscriber_id:
        raise ApprovalNotFoundError()
    approval.subscriber = device.subscriber  # the same row, loaded with the device
    approval.application = application_cached(approval.application_id)
    return approval


def _approval_to_decide(*, device: Device, approval_id: UUID, decision: str, client_ip: str | None) -> ApprovalRequest:
    try:
        return approval_of_device(device=device, approval_id=approval_id)
    except ApprovalNotFoundError:
        # Another subscriber's (or no) transaction: audited in the device's tenant, never linked to that id.
        device_audit(
            device,
            "approval.decision_refused",
            actor=f"device:{device.pk}",
            ip=client_ip,
            detail={"reason": "approval_not_found", "decision": decision, "approval": str(approval_id)},
        )
        raise


def _decision_refuser(
    *, approval: ApprovalRequest, device: Device, decision: str, client_ip: str | None
) -> Callable[[Exception, str], Exception]:
    """``refuse(error, reason)`` audits a refused decision and returns the error to raise."""

    def refuse(error: Exception, reason: str) -> Exception:
        device_audit(
            device,
            "approval.decision_refused",
            actor=f"device:{device.pk}",
            approval_id=approval.pk,
            ip=client_ip,
            detail={"reason": reason, "decision": decision},
        )
        return error

    return refuse


def _decision_apply(
    *,
    approval: ApprovalRequest,
    device: Device,
    decision: str,
    number: str,
    now: datetime,
    client_ip: str | None,
    refuse: Callable[[Exception, str], Exception],
    proof_digest: str | None = None,
) -> ApprovalRequest:
    """After the proof checked out: number matching, the one transition, its audit record and lockout counting.

    One transaction, committed on refusals too; a ``proof_digest`` is consumed first (``ProofReusedError``).
    When the proof, the transition and its audit event are all there is to write, on PostgreSQL outside a
    transaction, they are one statement instead (``pending_request_end_with_proof``).
    """
    new_status, reason = DECISION_STATUS[decision], f"user_{decision}"
    number_ok = not approval.number or (bool(number) and tokens_equal(number, approval.number))
    if decision == "approve" and not number_ok:
        new_status, reason = Status.DENIED, "number_mismatch"
    event = device_audit_event(
        device,
        f"approval.{new_status}",
        actor=f"device:{device.pk}",
        approval_id=approval.pk,
        ip=client_ip,
        detail={"reason": reason},
    )
    if proof_digest is not None and _decision_writes_only_itself(approval=approval, status=new_status, reason=reason):
        fresh, ended = pending_request_end_with_proof(
            approval_id=approval.pk,
            status=new_status,
            reason=reason,
            now=now,
            decided_by_id=device.pk,
            proof_digest=proof_digest,
            event=event,
        )
        if not fresh:
            raise refuse(ProofReusedError(), "proof_reused")
        if not ended:
            approval_request_expire(approval=approval)  # when it is past due and still pending
            raise _missed_decision_refusal(approval=approval, refuse=refuse)
        return approval_request_ended(approval=approval, status=new_status, reason=reason, now=now, device=device)
    with _atomic_keeping_refusals():
        if proof_digest is not None and not proof_consume(proof_digest):
            raise refuse(ProofReusedError(), "proof_reused")
        decided = approval_request_transition(
            approval=approval, status=new_status, reason=reason, device=device, now=now
        )
        if decided is None:
            raise _missed_decision_refusal(approval=approval, refuse=refuse)
        audit_append(event)
        _count_outcome(subscriber=approval.subscriber, status=decided.status, reason=reason)
        if reason == "number_mismatch":
            raise NumberMismatchError()
        return decided


def _decision_writes_only_itself(*, approval: ApprovalRequest, status: str, reason: str) -> bool:
    """Whether the decision writes nothing but the proof, the transition and its audit event, on PostgreSQL
    outside a transaction: no webhook outbox row, no lockout count (``_count_outcome``), no policy record."""
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        return False
    if approval.application.callback_url:
        return False
    if status == Status.APPROVED:
        return not approval.subscriber.failed_attempts and not policy_may_refuse_approval(
            application=approval.application
        )
    return reason == "user_deny"  # a wrong number and fraud count toward lockout


def _missed_decision_refusal(*, approval: ApprovalRequest, refuse: Callable[[Exception, str], Exception]) -> Exception:
    """The refusal for a decision that found the request no longer pending: expired or decided by another."""
    current = ApprovalRequest.objects.get(pk=approval.pk)
    if current.status == Status.TIMEOUT:
        return refuse(ApprovalExpiredError(), "approval_expired")
    return refuse(ApprovalAlreadyDecidedError(status=current.status), "approval_already_decided")


def approval_request_transition(
    *, approval: ApprovalRequest, status: str, reason: str, now: datetime, device: Device | None = None
) -> ApprovalRequest | None:
    """Move a pending, unexpired request to ``status``; None when someone else moved it first.

    The one place every factor (push, WebAuthn, codes) ends a transaction. Expiry may act on requests
    past ``expires_at``; decisions may not. The caller audits the outcome. An approval by a device may
    be refused by the policy's new-device rule (``PolicyDeniedError``, audited; the request stays pending).
    """
    if status == Status.APPROVED and device is not None:
        policy_enforce_approval(approval=approval, device=device, now=now)
    with transaction.atomic(savepoint=False):  # inside a caller's transaction: part of it, no savepoint
        ended = pending_request_end(
            approval_id=approval.pk,
            status=status,
            reason=reason,
            now=now,
            decided_by_id=device.pk if device is not None else None,
            unexpired_only=status != Status.TIMEOUT,
        )
        if not ended:
            if status != Status.TIMEOUT:
                approval_request_expire(approval=approval)  # when it is past due and still pending
            return None
        return approval_request_ended(approval=approval, status=status, reason=reason, now=now, device=device)


def approval_request_ended(
    *, approval: ApprovalRequest, status: str, reason: str, now: datetime, device: Device | None
) -> ApprovalRequest:
    """After this call's UPDATE ended the request: the instance follows, and after commit the devices are
    notified, the relying calls waiting for it woken and the webhook queued (its outbox row now)."""
    approval.status, approval.status_reason, approval.decided_at, approval.decided_by = status, reason, now, device
    notify_devices_of_decision(approval=approval)
    webhook_enqueue(approval=approval, result=relying_result(status))
    transaction.on_commit(partial(announce_ended, approval.pk))  # the relying calls waiting for it
    return approval


def _count_outcome(*, subscriber: Subscriber, status: str, reason: str) -> None:
    """Explicit denials for a wrong number and fraud reports count toward lockout; an approval resets it.

    The reset is skipped when the loaded ``subscriber`` had no strikes.
    """
    if status == Status.APPROVED:
        if subscriber.failed_attempts > 0:
            Subscriber.objects.filter(pk=subscriber.pk, failed_attempts__gt=0).update(failed_attempts=0)
        return
    if reason not in ("number_mismatch", "user_fraud"):
        return
    Subscriber.objects.filter(pk=subscriber.pk).update(failed_attempts=F("failed_attempts") + 1)
    subscriber_lock(subscriber=subscriber, failed_attempts__gte=settings.MFA_LOCKOUT_THRESHOLD)


# --- cancelling and expiring -------------------------------------------------------------------


def approval_request_cancel(*, application: Application, approval_id: UUID) -> ApprovalRequest:
    """Cancel a pending request of this application; cancelling twice is harmless.

    Raises ``ApprovalNotFoundError`` and ``ApprovalAlreadyDecidedError``.
    """
    approval = row_get_owned(ApprovalRequest, "application_id", application.pk, pk=approval_id)
    if approval is None:
        raise ApprovalNotFoundError()
    approval.application = application  # already loaded (and authenticated): no join
    if approval_request_transition(
        approval=approval, status=Status.CANCELLED, reason="cancelled_by_service", now=timezone.now()
    ):
        audit_record(
            kind="approval.cancelled",
            tenant_id=application.tenant_id,
            actor=f"app:{application.integration_key}",
            subscriber_id=approval.subscriber_id,
            approval_id=approval.pk,
        )
        return approval
    approval.refresh_from_db()
    if approval.status != Status.CANCELLED:
        raise ApprovalAlreadyDecidedError(status=approval.status)
    return approval


def approval_request_expire(*, approval: ApprovalRequest) -> bool:
    """Time out a pending request whose deadline passed; False when it was not due or already decided."""
    now = timezone.now()
    if approval.expires_at > now:
        return False
    if approval_request_transition(approval=approval, status=Status.TIMEOUT, reason="timeout", now=now) is None:
        return False
    audit_record(
        kind="approval.timeout",
        tenant_id=approval.application.tenant_id,
        subscriber_id=approval.subscriber_id,
        approval_id=approval.pk,
    )
    return True


def approval_requests_expire_due(*, limit: int = 500) -> int:
    """Worker: time out every pending request past its deadline. Returns how many it expired."""
    due = ApprovalRequest.objects.filter(status=Status.PENDING, expires_at__lte=timezone.now()).select_related(
        "application"
    )[:limit]
    return sum(approval_request_expire(approval=approval) for approval in list(due))
