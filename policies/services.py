"""Applying policies: check the presented certificate, evaluate, audit refusals, lock, and audit admin edits.

The rules themselves live in ``policies.engine`` (pure); this module gathers facts, calls it and
acts on the decision.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.forms.models import model_to_dict
from django.utils import timezone

from approvals.models import Application, ApprovalRequest
from audit.services import audit_record
from devices.models import Device
from mfa_server.net import PresentedCertificate
from policies import engine
from policies.certificates import check_certificate, decode_forwarded_pem
from policies.exceptions import PolicyDeniedError, PushRateLimitedError
from policies.facts import RequestFacts
from policies.models import CertAuthority, Policy
from policies.selectors import CertificateTrust, EffectivePolicy, effective_policy, subscriber_facts
from tenants.models import Subscriber
from tenants.services import subscriber_lock

logger = logging.getLogger(__name__)

# pki.selectors.certificate_status reasons -> ours (the same words the uploaded-CA check uses).
_PKI_REASONS = {
    "ok": "certificate_valid",
    "unparseable": "certificate_malformed",
    "unknown_certificate": "certificate_untrusted",
    "bad_signature": "certificate_untrusted",
    "ca_expired": "certificate_ca_expired",
    "not_yet_valid": "certificate_not_yet_valid",
    "expired": "certificate_expired",
    "revoked": "certificate_revoked",
}


@dataclass(frozen=True)
class Evaluation:
    """A decision plus the subscriber it was about (None when unknown or not about a user).

    ``devices`` are the subscriber's active devices in enrolment order, as the facts saw them (empty when
    not looked up); ``facts`` what was known of the request.
    """

    decision: engine.Decision
    subscriber: Subscriber | None
    policy: EffectivePolicy
    facts: RequestFacts
    devices: tuple[Device, ...] = ()

    @property
    def refuses(self) -> bool:
        return self.decision.outcome in (engine.Outcome.DENY, engine.Outcome.RATE_LIMITED)


def _builtin_check(pem: str, tenant_id: int, now: datetime) -> engine.CertificateFacts:
    """Ask the built-in CA (pki) whether it issued this certificate and it is still good."""
    try:
        from pki.selectors import certificate_status
    except ImportError:  # the pki app is not installed in this deployment
        return engine.CertificateFacts(False, "ca_not_configured")
    status = certificate_status(decode_forwarded_pem(pem), tenant=tenant_id, at=now)
    holder = status.holder
    username = holder.subscriber.username if holder is not None and holder.subscriber is not None else ""
    device_id = holder.device_id if holder is not None else None
    application_id = holder.application_id if holder is not None else None
    return engine.CertificateFacts(
        status.valid, _PKI_REASONS.get(status.reason, "certificate_untrusted"), username, device_id, application_id
    )


def certificate_facts(
    *, presented: PresentedCertificate | None, trust: CertificateTrust, now: datetime
) -> engine.CertificateFacts | None:
    """Check a forwarded certificate against the policy's CA. None when nothing was presented.

    Both the proxy and we must accept it: the proxy's ``FAILED:...`` is never overruled.
    """
    if presented is None:
        return None
    if trust.authority == CertAuthority.UPLOADED:
        checked = check_certificate(
            pem=presented.pem, ca_bundle_pem=trust.ca_bundle_pem, crl_pem=trust.crl_pem, now=now
        )
        facts = engine.CertificateFacts(
            checked.valid, checked.reason, checked.holder_username, checked.holder_device_id
        )
    else:
        facts = _builtin_check(presented.pem, trust.tenant_id, now)
    if facts.valid and presented.proxy_verify != "SUCCESS":
        return engine.CertificateFacts(
            False, "certificate_rejected_by_proxy", facts.holder_username, facts.holder_device_id
        )
    return facts


def policy_evaluate(
    *,
    policy: EffectivePolicy,
    tenant_id: int,
    username: str | None,
    facts: RequestFacts,
    phase: engine.Phase,
    now: datetime | None = None,
    application_id: int | None = None,
) -> Evaluation:
    """Evaluate without side effects (also what the admin's "test this policy" page shows).

    ``application_id``: the calling relying service, for certificates bound to an application.
    """
    now = now or timezone.now()
    lookup = None
    if username is not None:
        lookup = subscriber_facts(tenant_id=tenant_id, username=username, rules=policy.rules, now=now, phase=phase)
    certificate = None
    if policy.rules.client_cert_required and policy.trust is not None:
        certificate = certificate_facts(presented=facts.certificate, trust=policy.trust, now=now)
    connection = engine.Connection(
        end_user_ip=facts.end_user_ip,
        service_ip=facts.service_ip,
        certificate=certificate,
        device_id=facts.device_id,
        application_id=application_id,
    )
    known = lookup.facts if lookup is not None else None
    decision = engine.evaluate(rules=policy.rules, connection=connection, subscriber=known, phase=phase, now=now)
    if lookup is None:
        return Evaluation(decision=decision, subscriber=None, policy=policy, facts=facts)
    return Evaluation(
        decision=decision, subscriber=lookup.subscriber, policy=policy, devices=lookup.devices, facts=facts
    )


def _audit_refusal(evaluation: Evaluation, *, tenant_id: int, actor: str, phase: str, approval_id: Any = None) -> None:
    decision, facts = evaluation.decision, evaluation.facts
    audit_record(
        kind="policy.refused",
        tenant_id=tenant_id,
        actor=actor,
        subscriber_id=evaluation.subscriber.pk if evaluation.subscriber else None,
        device_id=facts.device_id,
        approval_id=approval_id,
        ip=facts.end_user_ip or facts.service_ip,
        detail={
            "rule": decision.rule,
            "reason": decision.reason,
            "outcome": decision.outcome.value,
            "phase": phase,
            "policy": evaluation.policy.source,
            "service_ip": facts.service_ip,
            "verdicts": {v.rule: f"{v.verdict.value}:{v.reason}" for v in decision.verdicts},
        },
    )


def policy_consider(
    *,
    application: Application,
    username: str,
    facts: RequestFacts | None,
    phase: engine.Phase = engine.Phase.PREAUTH,
    end_user_ip: str | None = None,
) -> Evaluation:
    """Evaluate for a relying-service call without recording anything (``policy_refusal_record`` does).

    ``facts`` None (a caller that passes none) means: no known address, no certificate (fails closed).
    ``end_user_ip`` fills in the end user's address when ``facts`` lacks it.
    """
    facts = facts or RequestFacts()
    if facts.end_user_ip is None and end_user_ip:
        facts = replace(facts, end_user_ip=end_user_ip)
    return policy_evaluate(
        policy=effective_policy(application=application),
        tenant_id=application.tenant_id,
        username=username,
        facts=facts,
        phase=phase,
        application_id=application.pk,
    )


def policy_refusal_record(evaluation: Evaluation, *, application: Application, phase: engine.Phase) -> None:
    """Audit a refusing evaluation and lock its subscriber when the rule says so; nothing when it allows."""
    if not evaluation.refuses:
        return
    actor = f"app:{application.integration_key}"
    _audit_refusal(evaluation, tenant_id=application.tenant_id, actor=actor, phase=phase.value)
    if evaluation.decision.lock_subscriber and evaluation.subscriber is not None:
        subscriber_lock(subscriber=evaluation.subscriber, actor=actor, detail={"rule": "fraud_lockout"})


def policy_preauth(
    *, application: Application, username: str, facts: RequestFacts | None
) -> tuple[tuple[str, str] | None, Evaluation]:
    """``(result, reason)`` for preauth when the policy settles it (deny, unknown user), else None; and the
    evaluation, whose subscriber and active devices the caller goes on with."""
    evaluation = policy_consider(application=application, username=username, facts=facts, phase=engine.Phase.PREAUTH)
    policy_refusal_record(evaluation, application=application, phase=engine.Phase.PREAUTH)
    decision = evaluation.decision
    if decision.outcome == engine.Outcome.ENROLL:
        return ("enroll", "unknown_user"), evaluation
    if decision.outcome == engine.Outcome.BYPASS:
        return ("allow", "unknown_user_allowed"), evaluation
    if decision.outcome == engine.Outcome.DENY:
        return ("deny", decision.reason), evaluation
    return None, evaluation


def raise_for(decision: engine.Decision) -> None:
    """Turn a refusing decision into its domain error (403 policy_denied / 429 push_rate_limited)."""
    if decision.outcome == engine.Outcome.RATE_LIMITED:
        raise PushRateLimitedError(retry_after=decision.retry_after or 1, rule=decision.rule, reason=decision.reason)
    if decision.outcome == engine.Outcome.DENY:
        raise PolicyDeniedError(rule=decision.rule, reason=decision.reason)


def policy_enforce_evaluation(
    *,
    application: Application,
    username: str,
    facts: RequestFacts | None,
    phase: engine.Phase = engine.Phase.PUSH,
    end_user_ip: str | None = None,
) -> Evaluation:
    """Evaluate before a factor is used; raise on refusal (audited), else return the whole evaluation, whose
    subscriber and active devices the caller goes on with.

    Raises:
        PolicyDeniedError: a rule denied (extra: ``rule``, ``reason``).
        PushRateLimitedError: push limit or cool-down (extra: ``rule``, ``reason``; ``retry_after``).
    """
    evaluation = policy_consider(
        application=application, username=username, facts=facts, phase=phase, end_user_ip=end_user_ip
    )
    policy_refusal_record(evaluation, application=application, phase=phase)
    raise_for(evaluation.decision)
    return evaluation


def policy_enforce_connection(
    *,
    policy: EffectivePolicy,
    tenant_id: int,
    facts: RequestFacts,
    actor: str,
    end_user: bool,
    username: str | None = None,
    check_user_network: bool = False,
    application_id: int | None = None,
) -> None:
    """The connection locks, checked on every request of an API (one mechanism for all three).

    - relying API (``end_user=False``): the service's source network and its client certificate (one
      bound to an application is good only for that ``application_id``);
    - device API (``end_user=True``): the phone's certificate, bound to the subscriber / device when
      the policy says so (a phone's own network is not the login's, so no network rule);
    - hosted web client (``end_user=True, check_user_network=True``): the browser's certificate and
      the end user's network, which here is the connection's own address.

    Raises ``PolicyDeniedError`` (audited) on refusal.
    """
    service_networks = engine.NetworkRule() if end_user else policy.rules.service_networks
    user_networks = policy.rules.user_networks if check_user_network else engine.NetworkRule()
    if not (policy.rules.client_cert_required or service_networks.is_active or user_networks.is_active):
        return  # every request of every API passes here: no lock, nothing more to build
    rules = replace(policy.rules, service_networks=service_networks, user_networks=user_networks)
    now = timezone.now()
    certificate = None
    if rules.client_cert_required and policy.trust is not None:
        certificate = certificate_facts(presented=facts.certificate, trust=policy.trust, now=now)
    connection = engine.Connection(
        end_user_ip=facts.service_ip if check_user_network else None,
        service_ip=None if end_user else facts.service_ip,
        certificate=certificate,
        device_id=facts.device_id,
        end_user=end_user,
        application_id=application_id,
    )
    known = engine.SubscriberFacts(username=username) if username else None
    decision = engine.evaluate(rules=rules, connection=connection, subscriber=known, phase=engine.Phase.ACCESS, now=now)
    if not decision.allowed:
        subscriber = Subscriber.objects.filter(tenant_id=tenant_id, username=username).first() if username else None
        evaluation = Evaluation(decision=decision, subscriber=subscriber, policy=policy, facts=facts)
        _audit_refusal(evaluation, tenant_id=tenant_id, actor=actor, phase=engine.Phase.ACCESS.value)
        raise_for(decision)


def policy_may_refuse_approval(*, application: Application) -> bool:
    """Whether ``policy_enforce_approval`` can do anything for ``application``: its policy has a new-device rule."""
    return bool(effective_policy(application=application).rules.new_device_minutes)


def policy_enforce_approval(*, approval: ApprovalRequest, device: Device, now: datetime) -> None:
    """The new-device rule when ``device`` approves ``approval``: a device enrolled less than N minutes
    ago cannot approve a login from an unknown network (the login's IP, as the relying service reported it).

    Raises ``PolicyDeniedError`` (audited); the request stays pending for another device or a denial.
    """
    application = approval.application
    if not policy_may_refuse_approval(application=application):
        return
    policy = effective_policy(application=application)
    lookup = subscriber_facts(
        tenant_id=application.tenant_id,
        username=approval.subscriber.username,
        rules=policy.rules,
        now=now,
        phase=engine.Phase.DECIDE,
    )
    connection = engine.Connection(
        end_user_ip=str(approval.ip) if approval.ip else None, device_id=device.pk, device_enrolled_at=device.created_at
    )
    decision = engine.evaluate(
        rules=policy.rules, connection=connection, subscriber=lookup.facts, phase=engine.Phase.DECIDE, now=now
    )
    if not decision.allowed:
        # The transaction stays pending, but it records which rule refused an approval.
        ApprovalRequest.objects.filter(pk=approval.pk, status=ApprovalRequest.Status.PENDING).update(
            policy_rule=decision.rule
        )
        facts = RequestFacts(end_user_ip=connection.end_user_ip, device_id=device.pk)
        evaluation = Evaluation(decision=decision, subscriber=lookup.subscriber, policy=policy, facts=facts)
        _audit_refusal(
            evaluation,
            tenant_id=application.tenant_id,
            actor=f"device:{device.pk}",
            phase=engine.Phase.DECIDE.value,
            approval_id=approval.pk,
        )
        raise_for(decision)


# --- admin edits ---------------------------------------------------------------------------------

_PEM_FIELDS = ("client_cert_ca_pem", "client_cert_crl_pem")


def policy_snapshot(policy: Policy | None) -> dict[str, Any]:
    """A policy's editable values as JSON-safe data; PEM uploads appear as a SHA-256 fingerprint."""
    if policy is None or policy.pk is None:
        return {}
    data = model_to_dict(policy)
    for name in _PEM_FIELDS:
        value = data.get(name) or ""
        data[name] = hashlib.sha256(value.encode()).hexdigest()[:16] if value else ""
    return {key: value for key, value in data.items() if key != "id"}


def policy_change_record(*, before: dict[str, Any], policy: Policy, actor: str, deleted: bool = False) -> None:
    """Audit who changed which policy fields from what to what (``before`` = snapshot taken before saving)."""
    after = {} if deleted else policy_snapshot(policy)
    keys = sorted(set(before) | set(after))
    changes = {key: [before.get(key), after.get(key)] for key in keys if before.get(key) != after.get(key)}
    kind = "policy.deleted" if deleted else ("policy.changed" if before else "policy.created")
    if not changes and kind == "policy.changed":
        return
    audit_record(
        kind=kind,
        tenant_id=policy.tenant_id,
        actor=actor,
        detail={
            "policy_id": policy.pk,
            "scope": f"application:{policy.application_id}" if policy.application_id else "tenant",
            "changes": changes,
        },
    )
