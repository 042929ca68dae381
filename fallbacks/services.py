"""Writes of the fallback factors: passcodes (device TOTP), session codes, SMS codes, bypass codes.

Plain functions with keyword arguments, so the native relying API and the Duo-compatible adapter
call the same code. Every transaction ends through ``approvals.services.approval_request_transition``
(one conditional update: exactly one winner), every outcome is audited, and no code is ever logged
or audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from approvals.exceptions import (
    ApprovalAlreadyDecidedError,
    ApprovalExpiredError,
    SubscriberUnknownError,
)
from approvals.models import Application, ApprovalRequest
from approvals.notify import active_device_targets
from approvals.services import LoginContext, approval_replayed, approval_request_transition, subscriber_may_log_in
from audit.services import audit_record
from devices.models import Device
from devices.services import device_audit
from fallbacks import codes, lockout, sms_limits
from fallbacks.delivery import session_code_deliver
from fallbacks.exceptions import (
    CodeAttemptsExceededError,
    CodeExpiredError,
    CodeInvalidError,
    CodeNotIssuedError,
    FactorNotAllowedError,
    FactorUnavailableError,
    PasscodeSecretAlreadyProvisionedError,
    SmsDeliveryError,
    SmsRefusedError,
)
from fallbacks.models import BypassCode, DeviceTotp, OneTimeCode, PhoneNumber, SmsSend, UsedTotpStep
from fallbacks.sms import get_sms_backend
from fallbacks.sms.base import SmsMessage, SmsProviderError
from mfa_server.crypto import decrypt_secret, encrypt_secret
from policies.engine import Phase
from policies.facts import RequestFacts
from policies.selectors import effective_policy
from policies.services import Evaluation, policy_enforce_evaluation
from tenants.models import Subscriber, Tenant

logger = logging.getLogger(__name__)
Status = ApprovalRequest.Status
Factor = ApprovalRequest.Factor
CODE_FACTORS = (Factor.SESSION_CODE, Factor.SMS)


# --- shared pieces --------------------------------------------------------------------------------


def factor_require_allowed(*, application: Application, factor: str) -> None:
    """Raise ``FactorNotAllowedError`` (403 ``factor_not_allowed``) unless the policy allows ``factor``."""
    if not effective_policy(application=application).allows(factor):
        raise FactorNotAllowedError(factor=factor)


def _policy_gate(
    *, application: Application, username: str, context: LoginContext, request_facts: RequestFacts | None
) -> Evaluation:
    """The policy's locks (networks, client certificate, unknown users, fraud strikes) before a code factor.

    Push fatigue rules do not apply (no push is sent). The evaluation carries the deciding rule (for
    ``policy_rule``) and the subscriber it looked up. Raises ``PolicyDeniedError`` (audited by the policy
    engine). ``request_facts`` None means "no address, no certificate": network and certificate rules fail closed.
    """
    return policy_enforce_evaluation(
        application=application, username=username, facts=request_facts, phase=Phase.PREAUTH, end_user_ip=context.ip
    )


def _actor(application: Application) -> str:
    return f"app:{application.integration_key}"


def _require_pending(approval: ApprovalRequest, now: datetime) -> None:
    if approval.status == Status.TIMEOUT or (approval.is_pending and approval.expires_at <= now):
        raise ApprovalExpiredError()
    if not approval.is_pending:
        raise ApprovalAlreadyDecidedError(status=approval.status)


@dataclass(frozen=True)
class _Login:
    """A direct code-factor login that passed the factor and policy gates, ready to open its transaction."""

    application: Application
    subscriber: Subscriber
    factor: str
    context: LoginContext
    request_digest: str | None
    policy_rule: str
    ttl_seconds: int
    now: datetime
    devices: tuple[Device, ...]  # the subscriber's active devices, as the policy's facts read them

    def open(self) -> ApprovalRequest:
        """Create the pending transaction (no push is sent) and audit it."""
        approval = ApprovalRequest.objects.create(
            application=self.application,
            subscriber=self.subscriber,
            factor=self.factor,
            ip=self.context.ip,
            hostname=self.context.hostname,
            user_agent=self.context.user_agent,
            display_text=self.context.display_text,
            login_type=self.context.login_type,
            policy_rule=self.policy_rule,
            request_digest=self.request_digest,
            created_at=self.now,
            expires_at=self.now + timedelta(seconds=self.ttl_seconds),
        )
        audit_record(
            kind="approval.created",
            tenant_id=self.application.tenant_id,
            actor=_actor(self.application),
            subscriber_id=self.subscriber.pk,
            approval_id=approval.pk,
            ip=self.context.ip,
            detail={"factor": self.factor, "hostname": self.context.hostname, "type": self.context.login_type},
        )
        return approval

    def approve_bypass(self, *, client_ip: str | None) -> ApprovalRequest:
        """A subscriber on bypass passes without a code (audited like any approval)."""
        return _approval_finish(
            approval=self.open(), status=Status.APPROVED, reason="bypass", now=self.now, ip=client_ip
        )


def _login_begin(
    *,
    application: Application,
    username: str,
    factor: str,
    context: LoginContext,
    request_digest: str | None,
    request_facts: RequestFacts | None,
) -> _Login:
    """Check the factor and the policy's locks, then find the subscriber (raises when any refuses)."""
    factor_require_allowed(application=application, factor=factor)
    evaluation = _policy_gate(application=application, username=username, context=context, request_facts=request_facts)
    return _Login(
        application=application,
        subscriber=subscriber_may_log_in(evaluation.subscriber),
        factor=factor,
        context=context,
        request_digest=request_digest,
        policy_rule=evaluation.decision.rule,
        ttl_seconds=evaluation.policy.approval_timeout_seconds,
        now=timezone.now(),
        devices=evaluation.devices,
    )


def _approval_finish(
    *, approval: ApprovalRequest, status: str, reason: str, now: datetime, device: Device | None = None, ip: str | None
) -> ApprovalRequest:
    """End the transaction once and audit it; raises when someone else ended it first."""
    decided = approval_request_transition(approval=approval, status=status, reason=reason, now=now, device=device)
    if decided is None:
        current = ApprovalRequest.objects.get(pk=approval.pk)
        if current.status == Status.TIMEOUT:
            raise ApprovalExpiredError()
        raise ApprovalAlreadyDecidedError(status=current.status)
    audit_record(
        kind=f"approval.{decided.status}",
        tenant_id=approval.application.tenant_id,
        actor=_actor(approval.application),
        subscriber_id=approval.subscriber_id,
        device_id=device.pk if device else None,
        approval_id=approval.pk,
        ip=ip,
        detail={"factor": approval.factor, "reason": reason},
    )
    return decided


def _code_refused_audit(
    *, approval: ApprovalRequest, factor: str, reason: str, ip: str | None, extra: dict[str, Any] | None = None
) -> None:
    audit_record(
        kind="fallback.code_refused",
        tenant_id=approval.application.tenant_id,
        actor=_actor(approval.application),
        subscriber_id=approval.subscriber_id,
        approval_id=approval.pk,
        ip=ip,
        detail={"factor": factor, "reason": reason, **(extra or {})},
    )


# --- device passcodes (TOTP) ----------------------------------------------------------------------


def passcode_secret_provision(*, device: Device) -> str:
    """Create the device's TOTP secret and return it, once: the device stores it next to its key.

    Raises ``PasscodeSecretAlreadyProvisionedError`` on a second call (an admin reset allows a new one).
    """
    secret = codes.new_totp_secret()
    try:
        with transaction.atomic():
            DeviceTotp.objects.create(device=device, secret_encrypted=encrypt_secret(secret))
    except IntegrityError:
        raise PasscodeSecretAlreadyProvisionedError() from None
    device_audit(device, "passcode_secret.provisioned", actor=f"device:{device.pk}")
    return secret


def passcode_secret_reset(*, device: Device, actor: str) -> bool:
    """Forget a device's TOTP secret (admin); the device may provision a new one. False if it had none."""
    deleted, _ = DeviceTotp.objects.filter(device=device).delete()
    if deleted:
        device_audit(device, "passcode_secret.reset", actor=actor)
    return bool(deleted)


def _totp_consume(*, subscriber: Subscriber, code: str, now: datetime) -> tuple[Device | None, str]:
    """(device, "") when a device's code matches a not-yet-used step; (None, reason) otherwise."""
    secrets = DeviceTotp.objects.select_related("device").filter(
        device__subscriber=subscriber, device__status=Device.Status.ACTIVE
    )
    for totp in secrets.order_by("pk"):
        step = codes.totp_matching_step(
            secret=decrypt_secret(totp.secret_encrypted),
            code=code,
            now=now,
            tolerance_steps=settings.MFA_TOTP_TOLERANCE_STEPS,
        )
        if step is None:
            continue
        try:
            with transaction.atomic():
                UsedTotpStep.objects.create(device=totp.device, step=step)
        except IntegrityError:
            return None, "passcode_reused"
        return totp.device, ""
    return None, "passcode_invalid"


def _bypass_consume(*, subscriber: Subscriber, code: str, now: datetime) -> bool:
    """Spend one use of a matching, unexpired, unrevoked bypass code (a conditional update: race-safe)."""
    return bool(
        BypassCode.objects.filter(
            subscriber=subscriber,
            code_hash=codes.code_hash(scope=f"bypass:{subscriber.pk}", code=code),
            uses_left__gt=0,
            expires_at__gt=now,
            revoked_at__isnull=True,
        ).update(uses_left=F("uses_left") - 1)
    )


def passcode_verify(
    *,
    application: Application,
    username: str,
    passcode: str,
    context: LoginContext | None = None,
    request_digest: str | None = None,
    client_ip: str | None = None,
    request_facts: RequestFacts | None = None,
) -> ApprovalRequest:
    """Check a passcode typed on the login page: a device TOTP code (6 digits) or a bypass code (9 digits).

    Returns the finished transaction: ``approved``, or ``denied`` with ``status_reason`` one of
    ``passcode_invalid`` / ``passcode_reused`` / ``bypass_code_invalid`` (the failure is counted toward
    back-off and lockout). A replay of the same signed request returns the transaction it created.
    Raises ``SubscriberUnknownError``, ``SubscriberDeniedError`` (locked / disabled),
    ``FactorNotAllowedError``, ``PolicyDeniedError`` (networks, certificate: see ``_policy_gate``),
    ``FallbackBackoffError`` and ``RateLimitedError``.
    """
    context = context or LoginContext()
    if existing := approval_replayed(application=application, request_digest=request_digest):
        return existing
    code = codes.normalize_code(passcode)
    factor = Factor.BYPASS_CODE if len(code) == codes.BYPASS_CODE_DIGITS else Factor.PASSCODE
    login = _login_begin(
        application=application,
        username=username,
        factor=factor,
        context=context,
        request_digest=request_digest,
        request_facts=request_facts,
    )
    subscriber, now = login.subscriber, login.now
    if subscriber.status == Subscriber.Status.BYPASS:
        return login.approve_bypass(client_ip=client_ip)
    lockout.attempt_guard(application=application, subscriber=subscriber, now=now)
    device: Device | None = None
    if factor == Factor.BYPASS_CODE:
        accepted = code.isdigit() and _bypass_consume(subscriber=subscriber, code=code, now=now)
        reason = "bypass_code_used" if accepted else "bypass_code_invalid"
    else:
        device, failure = _totp_consume(subscriber=subscriber, code=code, now=now)
        accepted, reason = device is not None, failure or "passcode_verified"
    approval = login.open()
    if not accepted:
        _code_refused_audit(approval=approval, factor=factor, reason=reason, ip=client_ip)
        decided = _approval_finish(approval=approval, status=Status.DENIED, reason=reason, now=now, ip=client_ip)
        lockout.failure_record(application=application, subscriber=subscriber, now=now)
        return decided
    if factor == Factor.BYPASS_CODE:
        logger.warning("bypass code used for subscriber %s of tenant %s", subscriber.pk, subscriber.tenant_id)
        audit_record(
            kind="bypass_code.used",
            tenant_id=subscriber.tenant_id,
            actor=_actor(application),
            subscriber_id=subscriber.pk,
            approval_id=approval.pk,
            ip=client_ip,
        )
    decided = _approval_finish(
        approval=approval, status=Status.APPROVED, reason=reason, now=now, device=device, ip=client_ip
    )
    lockout.success_record(subscriber=subscriber)
    return decided


# --- one-time codes bound to a transaction (session codes, SMS) -----------------------------------


def _code_issue(
    *, approval: ApprovalRequest, factor: str, digits: int, ttl_seconds: int, now: datetime
) -> tuple[str, OneTimeCode]:
    """Inside a transaction: replace any active code of ``approval`` with a fresh one and engage the factor.

    The transaction's deadline is pushed out to the code's so the code can be used for its whole life.
    Raises ``ApprovalExpiredError`` / ``ApprovalAlreadyDecidedError`` (rolling everything back).
    """
    expires_at = now + timedelta(seconds=ttl_seconds)
    engaged = ApprovalRequest.objects.filter(pk=approval.pk, status=Status.PENDING, expires_at__gt=now).update(
        factor=factor, expires_at=Greatest(F("expires_at"), expires_at)
    )
    if not engaged:
        approval.refresh_from_db()
        _require_pending(approval, now)
        raise ApprovalExpiredError()
    OneTimeCode.objects.filter(approval=approval, used_at__isnull=True, invalidated_at__isnull=True).update(
        invalidated_at=now, code_encrypted=""
    )
    code = codes.numeric_code(digits)
    row = OneTimeCode.objects.create(
        approval=approval,
        factor=factor,
        code_hash=codes.code_hash(scope=str(approval.pk), code=code),
        code_encrypted=encrypt_secret(code) if factor == Factor.SESSION_CODE else "",
        created_at=now,
        expires_at=expires_at,
    )
    approval.refresh_from_db(fields=["factor", "expires_at"])
    return code, row


def _code_issued_audit(*, approval: ApprovalRequest, factor: str, row: OneTimeCode, ip: str | None) -> None:
    audit_record(
        kind="fallback.code_issued",
        tenant_id=approval.application.tenant_id,
        actor=_actor(approval.application),
        subscriber_id=approval.subscriber_id,
        approval_id=approval.pk,
        ip=ip,
        detail={"factor": factor, "code_id": row.pk, "expires_at": row.expires_at.isoformat()},
    )


def session_code_send(
    *, application: Application, approval: ApprovalRequest, client_ip: str | None = None
) -> ApprovalRequest:
    """Issue a session code for a pending transaction and deliver it over the devices' channel only.

    Raises ``FactorNotAllowedError``, ``FactorUnavailableError`` (no active device),
    ``ApprovalExpiredError``, ``ApprovalAlreadyDecidedError``.
    """
    factor_require_allowed(application=application, factor=Factor.SESSION_CODE)
    now = timezone.now()
    _require_pending(approval, now)
    lockout.require_not_blocked(subscriber_id=approval.subscriber_id)  # no new code (or SMS bill) once locked
    targets = active_device_targets(subscriber_id=approval.subscriber_id)
    if not targets:
        raise FactorUnavailableError(factor=Factor.SESSION_CODE)
    with transaction.atomic():
        code, row = _code_issue(
            approval=approval,
            factor=Factor.SESSION_CODE,
            digits=settings.MFA_SESSION_CODE_DIGITS,
            ttl_seconds=settings.MFA_SESSION_CODE_TTL_SECONDS,
            now=now,
        )
        _code_issued_audit(approval=approval, factor=Factor.SESSION_CODE, row=row, ip=client_ip)
        session_code_deliver(approval=approval, code=code, expires_at_iso=row.expires_at.isoformat(), targets=targets)
    return approval


def sms_send(*, application: Application, approval: ApprovalRequest, client_ip: str | None = None) -> ApprovalRequest:
    """Issue an SMS code for a pending transaction and send it through the configured backend.

    Limits, in order: policy, phone number on file, country allow-list, per-subscriber cooldown and
    hourly cap, per-destination and per-tenant hourly caps. Refusals are audited (``sms.refused``) and
    leave no code behind. Raises ``FactorNotAllowedError``, ``FactorUnavailableError`` (no number),
    ``SmsRefusedError`` subclasses, ``SmsDeliveryError`` (the provider refused; the code is burnt),
    ``ApprovalExpiredError``, ``ApprovalAlreadyDecidedError``.
    """
    factor_require_allowed(application=application, factor=Factor.SMS)
    now = timezone.now()
    _require_pending(approval, now)
    lockout.require_not_blocked(subscriber_id=approval.subscriber_id)  # no new code (or SMS bill) once locked
    subscriber = approval.subscriber
    phone = PhoneNumber.objects.filter(subscriber=subscriber).first()
    if phone is None:
        raise FactorUnavailableError(factor=Factor.SMS)
    destination_hash = sms_limits.destination_hash(phone)
    try:
        sms_limits.destination_check(sms_limits.ParsedNumber(e164=phone.e164, region=phone.region))
        with transaction.atomic():
            # Serialise the cap checks of one tenant, so concurrent sends cannot all slip under a cap.
            Tenant.objects.select_for_update().filter(pk=subscriber.tenant_id).first()
            sms_limits.limits_check(
                tenant_id=subscriber.tenant_id, subscriber_id=subscriber.pk, destination_hash=destination_hash, now=now
            )
            code, row = _code_issue(
                approval=approval,
                factor=Factor.SMS,
                digits=min(max(settings.MFA_SMS_CODE_DIGITS, 6), 8),
                ttl_seconds=settings.MFA_SMS_CODE_TTL_SECONDS,
                now=now,
            )
            send = SmsSend.objects.create(
                tenant_id=subscriber.tenant_id,
                subscriber=subscriber,
                approval=approval,
                destination_hash=destination_hash,
                region=phone.region,
                created_at=now,
            )
    except SmsRefusedError as exc:
        _sms_audit(
            kind="sms.refused", approval=approval, ip=client_ip, detail={"reason": exc.code, "region": phone.region}
        )
        raise
    body = settings.MFA_SMS_MESSAGE.format(code=code, minutes=max(settings.MFA_SMS_CODE_TTL_SECONDS // 60, 1))
    try:
        result = get_sms_backend().send(SmsMessage(to=phone.e164, body=body))
    except SmsProviderError as exc:
        SmsSend.objects.filter(pk=send.pk).update(status=SmsSend.Status.FAILED, error=exc.reason)
        OneTimeCode.objects.filter(pk=row.pk, used_at__isnull=True).update(invalidated_at=timezone.now())
        _sms_audit(
            kind="sms.failed", approval=approval, ip=client_ip, detail={"error": exc.reason, "region": phone.region}
        )
        raise SmsDeliveryError(temporary=exc.temporary) from None
    SmsSend.objects.filter(pk=send.pk).update(status=SmsSend.Status.SENT, provider_id=result.provider_id[:100])
    _sms_audit(
        kind="sms.sent",
        approval=approval,
        ip=client_ip,
        detail={"code_id": row.pk, "region": phone.region, "provider_id": result.provider_id[:100]},
    )
    return approval


def _sms_audit(*, kind: str, approval: ApprovalRequest, ip: str | None, detail: dict[str, Any]) -> None:
    audit_record(
        kind=kind,
        tenant_id=approval.application.tenant_id,
        actor=_actor(approval.application),
        subscriber_id=approval.subscriber_id,
        approval_id=approval.pk,
        ip=ip,
        detail=detail,
    )


def code_send(
    *, application: Application, approval: ApprovalRequest, factor: str, client_ip: str | None = None
) -> ApprovalRequest:
    """Fall back to ``factor`` (``sms`` or ``session_code``) for a pending transaction."""
    if factor == Factor.SMS:
        return sms_send(application=application, approval=approval, client_ip=client_ip)
    return session_code_send(application=application, approval=approval, client_ip=client_ip)


def code_start(
    *,
    application: Application,
    username: str,
    factor: str,
    context: LoginContext | None = None,
    request_digest: str | None = None,
    client_ip: str | None = None,
    request_facts: RequestFacts | None = None,
) -> ApprovalRequest:
    """Start a transaction directly with a code factor (no push): create it and send the code.

    A replay of the same signed request returns the transaction it created without sending again.
    When the send is refused the new transaction is cancelled and the refusal raised.
    """
    context = context or LoginContext()
    if existing := approval_replayed(application=application, request_digest=request_digest):
        return existing
    login = _login_begin(
        application=application,
        username=username,
        factor=factor,
        context=context,
        request_digest=request_digest,
        request_facts=request_facts,
    )
    subscriber, now = login.subscriber, login.now
    if subscriber.status == Subscriber.Status.BYPASS:
        return login.approve_bypass(client_ip=client_ip)
    if factor == Factor.SMS:
        phone = PhoneNumber.objects.filter(subscriber=subscriber).first()
        if phone is None:
            raise FactorUnavailableError(factor=factor)
        # Check the limits before creating anything; sms_send checks them again under a lock.
        sms_limits.destination_check(sms_limits.ParsedNumber(e164=phone.e164, region=phone.region))
        sms_limits.limits_check(
            tenant_id=subscriber.tenant_id,
            subscriber_id=subscriber.pk,
            destination_hash=sms_limits.destination_hash(phone),
            now=now,
        )
    elif not login.devices:
        raise SubscriberUnknownError()
    approval = login.open()
    try:
        return code_send(application=application, approval=approval, factor=factor, client_ip=client_ip)
    except (SmsRefusedError, SmsDeliveryError):
        approval_request_transition(
            approval=approval, status=Status.CANCELLED, reason="code_not_sent", now=timezone.now()
        )
        raise


def code_verify(*, approval: ApprovalRequest, code: str, client_ip: str | None = None) -> ApprovalRequest:
    """Check a session / SMS code typed on the login page against the transaction's active code.

    A right code approves the transaction (once: concurrent submissions of the same code cannot both
    win). A wrong code counts toward the code's attempts and the subscriber's back-off and lockout;
    the ``MFA_CODE_MAX_ATTEMPTS``-th wrong code denies the transaction.
    Raises ``CodeInvalidError`` (``attempts_left``), ``CodeAttemptsExceededError``, ``CodeExpiredError``,
    ``CodeNotIssuedError``, ``ApprovalExpiredError``, ``ApprovalAlreadyDecidedError``,
    ``SubscriberDeniedError``, ``FallbackBackoffError``, ``RateLimitedError``.
    """
    application, subscriber = approval.application, approval.subscriber
    now = timezone.now()
    _require_pending(approval, now)
    lockout.attempt_guard(application=application, subscriber=subscriber, now=now)
    typed = codes.normalize_code(code)
    outcome, attempts_left, decided = "", 0, None
    with transaction.atomic():
        # The row lock queues concurrent submissions; the code is claimed and the transaction decided
        # in one database transaction, so a queued twin sees both or neither.
        row = (
            OneTimeCode.objects.select_for_update()
            .filter(approval=approval, used_at__isnull=True, invalidated_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        factor = row.factor if row is not None else approval.factor
        if row is None:
            outcome = "not_issued"
        elif row.expires_at <= now:
            outcome = "expired"
        elif codes.code_matches(scope=str(approval.pk), code=typed, stored_hash=row.code_hash):
            # The conditional update alone already makes the code single-use, even without the lock.
            claimed = OneTimeCode.objects.filter(pk=row.pk, used_at__isnull=True, invalidated_at__isnull=True).update(
                used_at=now, code_encrypted=""
            )
            if claimed:
                outcome = "accepted"
                decided = _approval_finish(
                    approval=approval, status=Status.APPROVED, reason=f"{factor}_verified", now=now, ip=client_ip
                )
            else:
                outcome = "not_issued"
        else:
            OneTimeCode.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
            attempts = OneTimeCode.objects.filter(pk=row.pk).values_list("attempts", flat=True).get()
            attempts_left = max(settings.MFA_CODE_MAX_ATTEMPTS - attempts, 0)
            _code_refused_audit(
                approval=approval,
                factor=factor,
                reason="code_invalid",
                ip=client_ip,
                extra={"attempts_left": attempts_left},
            )
            outcome = "wrong"
            if not attempts_left:
                OneTimeCode.objects.filter(pk=row.pk).update(invalidated_at=now, code_encrypted="")
                _approval_finish(
                    approval=approval, status=Status.DENIED, reason="code_attempts_exceeded", now=now, ip=client_ip
                )
                outcome = "exhausted"
    if decided is not None:
        lockout.success_record(subscriber=subscriber)
        return decided
    if outcome == "not_issued":
        approval.refresh_from_db()
        _require_pending(approval, now)
        raise CodeNotIssuedError()
    if outcome == "expired":
        _code_refused_audit(approval=approval, factor=factor, reason="code_expired", ip=client_ip)
        raise CodeExpiredError()
    lockout.failure_record(application=application, subscriber=subscriber, now=now)
    if outcome == "exhausted":
        raise CodeAttemptsExceededError()
    raise CodeInvalidError(attempts_left=attempts_left)


# --- bypass codes and phone numbers (admin) -------------------------------------------------------


def bypass_codes_issue(
    *,
    subscriber: Subscriber,
    actor: str,
    count: int | None = None,
    uses: int | None = None,
    ttl_seconds: int | None = None,
) -> list[str]:
    """Issue bypass codes (9 digits) for a subscriber who lost their device; returns them once.

    Only keyed hashes are stored. Audited loudly (``bypass_code.issued`` plus a warning log line).
    """
    count = count or settings.MFA_BYPASS_CODES_PER_ISSUE
    uses = uses or settings.MFA_BYPASS_CODE_USES
    expires_at = timezone.now() + timedelta(seconds=ttl_seconds or settings.MFA_BYPASS_CODE_TTL_SECONDS)
    issued: list[str] = []
    with transaction.atomic():
        while len(issued) < count:
            code = codes.numeric_code(codes.BYPASS_CODE_DIGITS)
            code_hash = codes.code_hash(scope=f"bypass:{subscriber.pk}", code=code)
            if code in issued or BypassCode.objects.filter(code_hash=code_hash).exists():
                continue
            BypassCode.objects.create(
                subscriber=subscriber, code_hash=code_hash, uses_left=uses, expires_at=expires_at, created_by=actor
            )
            issued.append(code)
        audit_record(
            kind="bypass_code.issued",
            tenant_id=subscriber.tenant_id,
            actor=actor,
            subscriber_id=subscriber.pk,
            detail={"count": count, "uses": uses, "expires_at": expires_at.isoformat()},
        )
    logger.warning("%s issued %d bypass codes for subscriber %s", actor, count, subscriber.pk)
    return issued


def bypass_codes_revoke(*, subscriber: Subscriber, actor: str) -> int:
    """Revoke every usable bypass code of a subscriber. Returns how many were revoked."""
    revoked = BypassCode.objects.filter(subscriber=subscriber, revoked_at__isnull=True, uses_left__gt=0).update(
        revoked_at=timezone.now()
    )
    if revoked:
        audit_record(
            kind="bypass_code.revoked",
            tenant_id=subscriber.tenant_id,
            actor=actor,
            subscriber_id=subscriber.pk,
            detail={"count": revoked},
        )
    return revoked


def phone_number_set(*, subscriber: Subscriber, number: str, actor: str) -> PhoneNumber:
    """Set (or replace) the subscriber's SMS number after validating it; audited (weakens MFA).

    Raises ``PhoneNumberInvalidError``.
    """
    parsed = sms_limits.phone_number_parse(number)
    phone, created = PhoneNumber.objects.update_or_create(
        subscriber=subscriber, defaults={"e164": parsed.e164, "region": parsed.region}
    )
    audit_record(
        kind="phone_number.set" if created else "phone_number.changed",
        tenant_id=subscriber.tenant_id,
        actor=actor,
        subscriber_id=subscriber.pk,
        detail={"region": parsed.region, "last_digits": parsed.e164[-2:]},
    )
    return phone


def subscriber_unlock(*, subscriber: Subscriber, actor: str) -> bool:
    """Admin unlock after a lockout (see ``fallbacks.lockout``)."""
    return lockout.subscriber_unlock(subscriber=subscriber, actor=actor)


# --- housekeeping (the worker) ----------------------------------------------------------------------


def fallbacks_housekeeping(*, now: datetime | None = None) -> int:
    """Wipe session-code copies that can no longer be used, and forget TOTP steps outside any window.

    A code's encrypted copy goes as soon as the code expires or its transaction is decided (by any
    factor); a used TOTP step older than the tolerance window can never match again. Returns the
    number of rows cleaned.
    """
    now = now or timezone.now()
    wiped = (
        OneTimeCode.objects.exclude(code_encrypted="")
        .filter(models.Q(expires_at__lte=now) | ~models.Q(approval__status=Status.PENDING))
        .update(code_encrypted="")
    )
    oldest_step = int(now.timestamp()) // codes.TOTP_INTERVAL - settings.MFA_TOTP_TOLERANCE_STEPS - 1
    pruned, _ = UsedTotpStep.objects.filter(step__lt=oldest_step).delete()
    return wiped + pruned
