"""Reading the policy that applies to an application, and the facts its rules need."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import F, Q

from approvals.models import Application, ApprovalRequest
from devices.models import Device
from mfa_server.addresses import parse_networks
from mfa_server.config_cache import cached
from mfa_server.rows import row_get_with_children
from policies import engine
from policies.fatigue import push_fatigue_facts
from policies.models import DEFAULT_FACTORS, CertAuthority, Policy, cidr_lines
from tenants.models import Subscriber, Tenant


@dataclass(frozen=True)
class CertificateTrust:
    """Where client certificates must chain to: the tenant's built-in CA, or an uploaded bundle."""

    tenant_id: int
    authority: str = CertAuthority.BUILTIN
    ca_bundle_pem: str = ""
    crl_pem: str = ""


@dataclass(frozen=True)
class EffectivePolicy:
    """The merged policy for one application (application override, else tenant default, else built-in)."""

    factors: tuple[str, ...]
    require_user_verification: bool
    number_matching: bool
    allow_plain_push: bool
    approval_timeout_seconds: int
    source: str  # "application", "tenant" or "default"
    rules: engine.PolicyRules = field(default_factory=engine.PolicyRules)
    trust: CertificateTrust | None = None
    policy_id: int | None = None

    def allows(self, factor: str) -> bool:
        return factor in self.factors


def _setting_or(value: int | None, setting: str) -> int:
    return int(getattr(settings, setting)) if value is None else value


def policy_rules(policy: Policy | None) -> engine.PolicyRules:
    """The engine's view of a policy row (None: the built-in default), numbers merged with settings.

    A CIDR list that no longer parses (edited outside the admin) raises ``ValueError``: failing closed.
    """
    if policy is None:
        return engine.PolicyRules(
            new_device_minutes=settings.MFA_POLICY_NEW_DEVICE_MINUTES,
            push_limit=settings.MFA_POLICY_PUSH_LIMIT,
            push_window_seconds=settings.MFA_POLICY_PUSH_WINDOW_SECONDS,
            cooldown_seconds=settings.MFA_POLICY_COOLDOWN_SECONDS,
            fraud_lockout_count=settings.MFA_POLICY_FRAUD_LOCKOUT_COUNT,
        )
    return engine.PolicyRules(
        user_networks=engine.NetworkRule(
            allow=parse_networks(cidr_lines(policy.user_networks_allow)),
            deny=parse_networks(cidr_lines(policy.user_networks_deny)),
        ),
        service_networks=engine.NetworkRule(
            allow=parse_networks(cidr_lines(policy.service_networks_allow)),
            deny=parse_networks(cidr_lines(policy.service_networks_deny)),
        ),
        client_cert_required=policy.client_cert_required,
        client_cert_binding=engine.CertBinding(policy.client_cert_binding),
        new_device_minutes=_setting_or(policy.new_device_minutes, "MFA_POLICY_NEW_DEVICE_MINUTES"),
        push_limit=_setting_or(policy.push_limit, "MFA_POLICY_PUSH_LIMIT"),
        push_window_seconds=_setting_or(policy.push_window_seconds, "MFA_POLICY_PUSH_WINDOW_SECONDS") or 1,
        cooldown_seconds=_setting_or(policy.cooldown_seconds, "MFA_POLICY_COOLDOWN_SECONDS"),
        fraud_lockout_count=_setting_or(policy.fraud_lockout_count, "MFA_POLICY_FRAUD_LOCKOUT_COUNT"),
        unknown_user=engine.UnknownUser(policy.unknown_user),
    )


def _trust(policy: Policy | None, tenant_id: int) -> CertificateTrust:
    if policy is None:
        return CertificateTrust(tenant_id=tenant_id)
    return CertificateTrust(
        tenant_id=tenant_id,
        authority=policy.client_cert_ca,
        ca_bundle_pem=policy.client_cert_ca_pem,
        crl_pem=policy.client_cert_crl_pem,
    )


def _build(policy: Policy | None, *, source: str, tenant_id: int, timeout: int) -> EffectivePolicy:
    if policy is None:
        return EffectivePolicy(
            factors=tuple(DEFAULT_FACTORS),
            require_user_verification=True,
            number_matching=True,
            allow_plain_push=False,
            approval_timeout_seconds=timeout,
            source="default",
            rules=policy_rules(None),
            trust=_trust(None, tenant_id),
        )
    return EffectivePolicy(
        factors=tuple(policy.factors),
        require_user_verification=policy.require_user_verification,
        number_matching=policy.number_matching,
        allow_plain_push=policy.allow_plain_push,
        approval_timeout_seconds=policy.approval_timeout_seconds or timeout,
        source=source,
        rules=policy_rules(policy),
        trust=_trust(policy, tenant_id),
        policy_id=policy.pk,
    )


def effective_policy(*, application: Application) -> EffectivePolicy:
    """The policy in force for ``application`` (its override, else the tenant default, else built-in).

    One query, or none while the process's configuration cache holds it. Kept in
    ``application.request_cache`` when the relying API's authentication gave the instance one, so the
    permission, the policy check and the transaction of one request share it.
    """
    memo = getattr(application, "request_cache", None)
    if memo is not None and "effective_policy" in memo:
        return memo["effective_policy"]
    result = cached(("effective_policy", application.pk), lambda: _load_effective_policy(application))
    if memo is not None:
        memo["effective_policy"] = result
    return result


def _load_effective_policy(application: Application) -> EffectivePolicy:
    rows = Policy.objects.filter(
        Q(application=application) | Q(tenant_id=application.tenant_id, application__isnull=True)
    ).order_by(F("application_id").asc(nulls_last=True))[:1]
    policy = next(iter(rows), None)
    source = "application" if policy is not None and policy.application_id else "tenant"
    timeout = application.approval_timeout_seconds or settings.MFA_APPROVAL_TIMEOUT_SECONDS
    return _build(policy, source=source, tenant_id=application.tenant_id, timeout=timeout)


def tenant_policy(*, tenant: Tenant | int) -> EffectivePolicy:
    """The tenant default (for the device API and the web client, which are not tied to one application)."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    return cached(("tenant_policy", tenant_id), lambda: _load_tenant_policy(tenant_id))


def _load_tenant_policy(tenant_id: int) -> EffectivePolicy:
    try:  # get(), not first(): one default per tenant (a unique constraint), so no ORDER BY
        policy = Policy.objects.get(tenant_id=tenant_id, application__isnull=True)
    except Policy.DoesNotExist:
        policy = None
    return _build(policy, source="tenant", tenant_id=tenant_id, timeout=settings.MFA_APPROVAL_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class SubscriberLookup:
    """The subscriber (None when unknown), what the engine needs to know about them, and their active devices."""

    subscriber: Subscriber | None
    facts: engine.SubscriberFacts
    devices: tuple[Device, ...] = ()  # active, in enrolment (primary key) order


def subscriber_facts(
    *, tenant_id: int, username: str, rules: engine.PolicyRules, now: datetime, phase: engine.Phase
) -> SubscriberLookup:
    """Look the subscriber up with what the rules need; the active devices come along for the caller.

    Every login starts here: the subscriber and its active devices are one read without the ORM's compiler
    (``mfa_server.rows``), and each fact is read only when a rule in force needs it in ``phase``
    (push fatigue facts only before a push).
    """
    subscriber, active_devices = row_get_with_children(
        Subscriber, Device, "subscriber", {"status": Device.Status.ACTIVE}, tenant_id=tenant_id, username=username
    )
    if subscriber is None:
        return SubscriberLookup(subscriber=None, facts=engine.SubscriberFacts(username=username, exists=False))
    devices = tuple(active_devices)
    push_times, last_refusal_at = ((), None)
    if phase == engine.Phase.PUSH:
        push_times, last_refusal_at = push_fatigue_facts(subscriber_id=subscriber.pk, rules=rules, now=now)
    facts = engine.SubscriberFacts(
        username=username,
        device_enrolled_at=tuple(device.created_at for device in devices),
        known_ips=_known_ips(subscriber.pk, rules),
        push_times=push_times,
        last_refusal_at=last_refusal_at,
        # The approvals core counts fraud reports and wrong-number denials; approval and unlock reset it.
        strikes=subscriber.failed_attempts,
    )
    return SubscriberLookup(subscriber=subscriber, facts=facts, devices=devices)


def _known_ips(subscriber_id: int, rules: engine.PolicyRules) -> tuple[str, ...]:
    """End-user IPs of the latest approved logins; only the new-device rule reads them (none when off)."""
    if not rules.new_device_minutes:
        return ()
    return tuple(
        ApprovalRequest.objects.filter(
            subscriber_id=subscriber_id, status=ApprovalRequest.Status.APPROVED, ip__isnull=False
        )
        .order_by("-decided_at")
        .values_list("ip", flat=True)[:50]
    )
