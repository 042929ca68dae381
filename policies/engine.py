"""Pure policy evaluation: frozen facts in, an explainable decision out. No ORM, no I/O, no clock.

Every rule is evaluated (so an admin can see each verdict); the first failing rule, in the order of
``RULE_ORDER``, decides. The order puts the operator's locks first (the relying service's network,
the client certificate, the end user's network) so that a refused request learns nothing about the
user, then the user's existence, then the anti-abuse rules that only apply to a push.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from mfa_server.addresses import IpAddress, IpNetwork, in_networks, parse_ip


class Outcome(StrEnum):
    """What the decision tells the caller to do."""

    ALLOW = "allow"  # go on (offer a factor / send the push)
    DENY = "deny"  # refuse (403 policy_denied)
    RATE_LIMITED = "rate_limited"  # refuse for now (429 push_rate_limited), see ``retry_after``
    ENROLL = "enroll"  # unknown user, policy says: offer enrolment
    BYPASS = "bypass"  # unknown user, policy says: let them in without a second factor


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"  # the rule is off, or does not apply to this phase


class Phase(StrEnum):
    PREAUTH = "preauth"  # before any factor is offered: no push counting
    PUSH = "push"  # a push is about to be sent
    ACCESS = "access"  # a device / web-client request: network and certificate locks only
    DECIDE = "decide"  # a device approves: only the new-device rule (the locks were checked on its request)


class UnknownUser(StrEnum):
    ENROLL = "enroll"
    DENY = "deny"
    ALLOW = "allow"


class CertBinding(StrEnum):
    NONE = "none"  # any valid certificate of the configured CA
    SUBSCRIBER = "subscriber"  # its holder is the subscriber being authenticated
    DEVICE = "device"  # it was issued for the device making the request


RULE_ORDER = (
    "service_network",
    "client_certificate",
    "user_network",
    "unknown_user",
    "fraud_lockout",
    "new_device",
    "push_cooldown",
    "push_limit",
)


@dataclass(frozen=True)
class NetworkRule:
    """CIDR allow and deny lists. Deny wins; an empty allow list allows every address not denied."""

    allow: tuple[IpNetwork, ...] = ()
    deny: tuple[IpNetwork, ...] = ()

    @property
    def is_active(self) -> bool:
        return bool(self.allow or self.deny)


@dataclass(frozen=True)
class PolicyRules:
    """The rules of one effective policy (numbers already merged with the settings' defaults)."""

    user_networks: NetworkRule = NetworkRule()
    service_networks: NetworkRule = NetworkRule()
    client_cert_required: bool = False
    client_cert_binding: CertBinding = CertBinding.NONE
    new_device_minutes: int = 0  # 0: off
    push_limit: int = 0  # 0: off; at most this many pushes per subscriber per window
    push_window_seconds: int = 600
    cooldown_seconds: int = 0  # 0: off; wait after an explicit denial or a fraud report
    fraud_lockout_count: int = 0  # 0: off; this many strikes (fraud reports, wrong numbers) lock
    unknown_user: UnknownUser = UnknownUser.ENROLL


@dataclass(frozen=True)
class CertificateFacts:
    """A client certificate as checked by the caller (chain, validity, revocation done outside)."""

    valid: bool
    reason: str  # "certificate_valid" or why not (certificate_expired, certificate_revoked, ...)
    holder_username: str = ""
    holder_device_id: int | None = None
    holder_application_id: int | None = None  # a relying service's own certificate (built-in CA)


@dataclass(frozen=True)
class Connection:
    """What the request tells: addresses and the checked certificate its connection presented (None: none)."""

    end_user_ip: str | None = None
    service_ip: str | None = None
    certificate: CertificateFacts | None = None
    device_id: int | None = None  # the device making the request (device API), for the device binding
    end_user: bool = False  # the end user's own connection (device API, web client): binding applies
    device_enrolled_at: datetime | None = None  # the approving device (phase DECIDE)
    application_id: int | None = None  # the calling relying service (relying API), for application-bound certs


@dataclass(frozen=True)
class SubscriberFacts:
    """What the database knows about the subscriber, loaded by ``policies.selectors``."""

    username: str
    exists: bool = True
    device_enrolled_at: tuple[datetime, ...] = ()  # active devices
    known_ips: tuple[str, ...] = ()  # end-user IPs of earlier approved logins
    push_times: tuple[datetime, ...] = ()  # the newest push_limit (or more) pushes in the window, any order
    last_refusal_at: datetime | None = None  # latest explicit denial or fraud report
    strikes: int = 0  # fraud reports and wrong-number denials since the last approval or unlock


@dataclass(frozen=True)
class RuleVerdict:
    rule: str
    verdict: Verdict
    reason: str


@dataclass(frozen=True)
class Decision:
    """The outcome, the rule that decided it ("" when no rule objected) and every rule's verdict."""

    outcome: Outcome
    rule: str
    reason: str
    verdicts: tuple[RuleVerdict, ...] = field(default=())
    retry_after: int | None = None
    lock_subscriber: bool = False

    @property
    def allowed(self) -> bool:
        return self.outcome in (Outcome.ALLOW, Outcome.BYPASS)


# --- addresses -------------------------------------------------------------------------------------


def _same_site(address: IpAddress, other: IpAddress) -> bool:
    """Same /24 (IPv4) or /64 (IPv6): what "a network seen before" means for the new-device rule."""
    if address.version != other.version:
        return False
    prefix = 24 if address.version == 4 else 64
    return address in ipaddress.ip_network(f"{other}/{prefix}", strict=False)


# --- rules -------------------------------------------------------------------------------------------


def _network(rule: NetworkRule, ip: str | None, label: str, phase: Phase) -> RuleVerdict:
    name = f"{label}_network"
    if phase == Phase.DECIDE:
        return RuleVerdict(name, Verdict.SKIP, "not_applicable")
    if not rule.is_active:
        return RuleVerdict(name, Verdict.SKIP, "no_network_rule")
    address = parse_ip(ip)
    if address is None:
        return RuleVerdict(name, Verdict.FAIL, f"{label}_ip_unknown")
    if in_networks(address, rule.deny):
        return RuleVerdict(name, Verdict.FAIL, f"{label}_network_denied")
    if rule.allow and not in_networks(address, rule.allow):
        return RuleVerdict(name, Verdict.FAIL, f"{label}_network_not_allowed")
    return RuleVerdict(name, Verdict.PASS, f"{label}_network_allowed")


def _certificate(
    rules: PolicyRules, connection: Connection, subscriber: SubscriberFacts | None, phase: Phase
) -> RuleVerdict:
    name = "client_certificate"
    if phase == Phase.DECIDE:
        return RuleVerdict(name, Verdict.SKIP, "not_applicable")
    if not rules.client_cert_required:
        return RuleVerdict(name, Verdict.SKIP, "certificate_not_required")
    cert = connection.certificate
    if cert is None:
        return RuleVerdict(name, Verdict.FAIL, "certificate_missing")
    if not cert.valid:
        return RuleVerdict(name, Verdict.FAIL, cert.reason)
    if not connection.end_user:
        # A relying service's own certificate; one bound to an application is good for that application only.
        bound_to = cert.holder_application_id
        if bound_to is not None and bound_to != connection.application_id:
            return RuleVerdict(name, Verdict.FAIL, "certificate_not_bound_to_application")
        return RuleVerdict(name, Verdict.PASS, "certificate_valid")
    if rules.client_cert_binding == CertBinding.SUBSCRIBER:
        if subscriber is None or not cert.holder_username or cert.holder_username != subscriber.username:
            return RuleVerdict(name, Verdict.FAIL, "certificate_not_bound_to_subscriber")
    if rules.client_cert_binding == CertBinding.DEVICE:
        if connection.device_id is None or cert.holder_device_id != connection.device_id:
            return RuleVerdict(name, Verdict.FAIL, "certificate_not_bound_to_device")
    return RuleVerdict(name, Verdict.PASS, "certificate_valid")


def _unknown_user(rules: PolicyRules, subscriber: SubscriberFacts | None) -> RuleVerdict:
    name = "unknown_user"
    if subscriber is None or subscriber.exists:
        return RuleVerdict(name, Verdict.SKIP, "user_known")
    return RuleVerdict(name, Verdict.FAIL, f"unknown_user_{rules.unknown_user.value}")


def _fraud_lockout(rules: PolicyRules, subscriber: SubscriberFacts | None, phase: Phase) -> RuleVerdict:
    name = "fraud_lockout"
    if (
        not rules.fraud_lockout_count
        or phase in (Phase.ACCESS, Phase.DECIDE)
        or subscriber is None
        or not subscriber.exists
    ):
        return RuleVerdict(name, Verdict.SKIP, "not_applicable")
    if subscriber.strikes >= rules.fraud_lockout_count:
        return RuleVerdict(name, Verdict.FAIL, "too_many_fraud_reports")
    return RuleVerdict(name, Verdict.PASS, "fraud_reports_below_limit")


def _network_known(rules: PolicyRules, connection: Connection, subscriber: SubscriberFacts) -> bool:
    address = parse_ip(connection.end_user_ip)
    if address is None:
        return False
    if rules.user_networks.allow and in_networks(address, rules.user_networks.allow):
        return True
    return any(_same_site(address, known) for known in map(parse_ip, subscriber.known_ips) if known is not None)


def _new_device(
    rules: PolicyRules, connection: Connection, subscriber: SubscriberFacts | None, phase: Phase, now: datetime
) -> RuleVerdict:
    """A device enrolled less than N minutes ago cannot approve a login from an unknown network.

    At push time the push is refused when every active device is that new (nobody could approve);
    when a device approves (phase DECIDE) that device must be established, or the network known.
    """
    name = "new_device"
    if not rules.new_device_minutes or subscriber is None:
        return RuleVerdict(name, Verdict.SKIP, "not_applicable")
    if phase == Phase.PUSH:
        enrolled_at = subscriber.device_enrolled_at
    elif phase == Phase.DECIDE and connection.device_enrolled_at is not None:
        enrolled_at = (connection.device_enrolled_at,)
    else:
        enrolled_at = ()
    if not enrolled_at:
        return RuleVerdict(name, Verdict.SKIP, "not_applicable")
    cutoff = now - timedelta(minutes=rules.new_device_minutes)
    if any(enrolled <= cutoff for enrolled in enrolled_at):
        return RuleVerdict(name, Verdict.PASS, "established_device")
    if _network_known(rules, connection, subscriber):
        return RuleVerdict(name, Verdict.PASS, "known_network")
    return RuleVerdict(name, Verdict.FAIL, "new_device_unknown_network")


def _cooldown(rules: PolicyRules, subscriber: SubscriberFacts | None, phase: Phase, now: datetime) -> RuleVerdict:
    name = "push_cooldown"
    if not rules.cooldown_seconds or phase != Phase.PUSH or subscriber is None or subscriber.last_refusal_at is None:
        return RuleVerdict(name, Verdict.SKIP, "not_applicable")
    if now < subscriber.last_refusal_at + timedelta(seconds=rules.cooldown_seconds):
        return RuleVerdict(name, Verdict.FAIL, "cooling_down_after_denial")
    return RuleVerdict(name, Verdict.PASS, "cooldown_over")


def _push_limit(rules: PolicyRules, subscriber: SubscriberFacts | None, phase: Phase, now: datetime) -> RuleVerdict:
    name = "push_limit"
    if not rules.push_limit or phase != Phase.PUSH or subscriber is None:
        return RuleVerdict(name, Verdict.SKIP, "not_applicable")
    if len(_pushes_in_window(rules, subscriber, now)) >= rules.push_limit:
        return RuleVerdict(name, Verdict.FAIL, "too_many_pushes")
    return RuleVerdict(name, Verdict.PASS, "pushes_below_limit")


def _pushes_in_window(rules: PolicyRules, subscriber: SubscriberFacts, now: datetime) -> list[datetime]:
    start = now - timedelta(seconds=rules.push_window_seconds)
    return sorted(t for t in subscriber.push_times if start < t <= now)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))


def _retry_after(rules: PolicyRules, subscriber: SubscriberFacts, rule: str, now: datetime) -> int:
    if rule == "push_cooldown":
        assert subscriber.last_refusal_at is not None  # noqa: S101 (the rule failed, so it is set)
        return _seconds_until(subscriber.last_refusal_at + timedelta(seconds=rules.cooldown_seconds), now)
    pushes = _pushes_in_window(rules, subscriber, now)
    # The window must drop enough old pushes that one more fits under the limit.
    freeing = pushes[len(pushes) - rules.push_limit]
    return _seconds_until(freeing + timedelta(seconds=rules.push_window_seconds), now)


_UNKNOWN_USER_OUTCOME = {
    "unknown_user_enroll": Outcome.ENROLL,
    "unknown_user_allow": Outcome.BYPASS,
    "unknown_user_deny": Outcome.DENY,
}


def evaluate(
    *,
    rules: PolicyRules,
    connection: Connection,
    subscriber: SubscriberFacts | None,
    phase: Phase,
    now: datetime,
) -> Decision:
    """Evaluate every rule; the first failing one (in ``RULE_ORDER``) decides.

    Args:
        rules: the effective policy.
        connection: addresses and the checked certificate.
        subscriber: what is known about the user (``exists=False`` for an unknown user); None when the
            request is not about one user (device API access before a user is known).
        phase: preauth (no push counting), push (all rules), access (network and certificate only) or
            decide (a device approves: the new-device rule only).
        now: the current time (aware).

    Returns:
        A ``Decision``; ``rule`` is "" and ``outcome`` is allow when no rule objected.
    """
    verdicts = (
        _network(rules.service_networks, connection.service_ip, "service", phase),
        _certificate(rules, connection, subscriber, phase),
        _network(rules.user_networks, connection.end_user_ip, "user", phase),
        _unknown_user(rules, subscriber),
        _fraud_lockout(rules, subscriber, phase),
        _new_device(rules, connection, subscriber, phase, now),
        _cooldown(rules, subscriber, phase, now),
        _push_limit(rules, subscriber, phase, now),
    )
    failed = next((v for v in verdicts if v.verdict == Verdict.FAIL), None)
    if failed is None:
        return Decision(Outcome.ALLOW, "", "policy_passed", verdicts)
    if failed.rule == "unknown_user":
        return Decision(_UNKNOWN_USER_OUTCOME[failed.reason], failed.rule, failed.reason, verdicts)
    if failed.rule in ("push_cooldown", "push_limit"):
        assert subscriber is not None  # noqa: S101 (these rules skip without a subscriber)
        retry = _retry_after(rules, subscriber, failed.rule, now)
        return Decision(Outcome.RATE_LIMITED, failed.rule, failed.reason, verdicts, retry_after=retry)
    lock = failed.rule == "fraud_lockout"
    return Decision(Outcome.DENY, failed.rule, failed.reason, verdicts, lock_subscriber=lock)
