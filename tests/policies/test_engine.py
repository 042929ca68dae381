"""The pure engine, table-driven: networks (IPv4/IPv6, deny wins), certificates, unknown users, fatigue."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mfa_server.addresses import parse_networks
from policies import engine
from policies.engine import (
    CertBinding,
    CertificateFacts,
    Connection,
    NetworkRule,
    Outcome,
    Phase,
    PolicyRules,
    SubscriberFacts,
    UnknownUser,
    Verdict,
    evaluate,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ALICE = SubscriberFacts(username="alice")


def nets(*cidrs: str) -> tuple:
    return parse_networks(cidrs)


def verdict_of(decision: engine.Decision, rule: str) -> engine.RuleVerdict:
    return next(v for v in decision.verdicts if v.rule == rule)


# --- networks ----------------------------------------------------------------------------------------

ALLOW_V4 = ("10.0.0.0/8", "192.168.1.0/24")
DENY_V4 = ("10.66.0.0/16",)
ALLOW_V6 = ("2001:db8::/32",)
DENY_V6 = ("2001:db8:bad::/48",)

NETWORK_MATRIX = [
    # allow, deny, ip, expected outcome, reason
    ((), (), "203.0.113.9", "pass", "no_network_rule"),
    (ALLOW_V4, (), "10.1.2.3", "pass", "user_network_allowed"),
    (ALLOW_V4, (), "192.168.1.200", "pass", "user_network_allowed"),
    (ALLOW_V4, (), "192.168.2.1", "fail", "user_network_not_allowed"),
    (ALLOW_V4, DENY_V4, "10.66.1.1", "fail", "user_network_denied"),  # deny wins over allow
    ((), DENY_V4, "10.66.1.1", "fail", "user_network_denied"),
    ((), DENY_V4, "10.67.1.1", "pass", "user_network_allowed"),  # deny-only list: the rest is allowed
    (ALLOW_V4, (), "::ffff:10.1.2.3", "pass", "user_network_allowed"),  # IPv4-mapped IPv6 is the IPv4 address
    (ALLOW_V4, DENY_V4, "::ffff:10.66.0.1", "fail", "user_network_denied"),
    (ALLOW_V6, (), "2001:db8:1::5", "pass", "user_network_allowed"),
    (ALLOW_V6, DENY_V6, "2001:db8:bad::1", "fail", "user_network_denied"),
    (ALLOW_V6, (), "2001:db9::1", "fail", "user_network_not_allowed"),
    (ALLOW_V4, (), "2001:db8::1", "fail", "user_network_not_allowed"),  # an IPv6 client vs an IPv4-only list
    (ALLOW_V6, (), "10.1.2.3", "fail", "user_network_not_allowed"),
    (ALLOW_V4 + ALLOW_V6, DENY_V4 + DENY_V6, "2001:db8:1::1", "pass", "user_network_allowed"),
    (ALLOW_V4, (), None, "fail", "user_ip_unknown"),  # a rule with no address fails closed
    (ALLOW_V4, (), "not-an-ip", "fail", "user_ip_unknown"),
    ((), ("0.0.0.0/0", "::/0"), "198.51.100.1", "fail", "user_network_denied"),
]


@pytest.mark.parametrize(("allow", "deny", "ip", "verdict", "reason"), NETWORK_MATRIX)
def test_evaluate__user_network_matrix(allow, deny, ip, verdict, reason):
    rules = PolicyRules(user_networks=NetworkRule(allow=nets(*allow), deny=nets(*deny)))
    decision = evaluate(rules=rules, connection=Connection(end_user_ip=ip), subscriber=ALICE, phase=Phase.PUSH, now=NOW)
    checked = verdict_of(decision, "user_network")
    assert (checked.verdict.value, checked.reason) == (
        verdict if verdict == "fail" or allow or deny else "skip",
        reason,
    )
    if verdict == "fail":
        assert (decision.outcome, decision.rule, decision.reason) == (Outcome.DENY, "user_network", reason)
    else:
        assert (decision.outcome, decision.rule) == (Outcome.ALLOW, "")


@pytest.mark.parametrize(
    ("allow", "deny", "service_ip", "reason"),
    [
        (("192.0.2.0/24",), (), "192.0.2.10", "service_network_allowed"),
        (("192.0.2.0/24",), (), "198.51.100.1", "service_network_not_allowed"),
        (("192.0.2.0/24",), ("192.0.2.10/32",), "192.0.2.10", "service_network_denied"),
        (("fd00::/8",), (), "fd12::1", "service_network_allowed"),
        (("fd00::/8",), (), None, "service_ip_unknown"),
    ],
)
def test_evaluate__service_network_matrix(allow, deny, service_ip, reason):
    rules = PolicyRules(service_networks=NetworkRule(allow=nets(*allow), deny=nets(*deny)))
    decision = evaluate(
        rules=rules, connection=Connection(service_ip=service_ip), subscriber=ALICE, phase=Phase.PREAUTH, now=NOW
    )
    assert verdict_of(decision, "service_network").reason == reason
    assert decision.allowed == (reason == "service_network_allowed")


def test_evaluate__service_network_decides_before_user_rules():
    rules = PolicyRules(
        service_networks=NetworkRule(allow=nets("192.0.2.0/24")),
        user_networks=NetworkRule(deny=nets("0.0.0.0/0")),
        client_cert_required=True,
    )
    decision = evaluate(
        rules=rules,
        connection=Connection(service_ip="203.0.113.1", end_user_ip="10.0.0.1"),
        subscriber=SubscriberFacts(username="ghost", exists=False),
        phase=Phase.PUSH,
        now=NOW,
    )
    assert (decision.rule, decision.reason) == ("service_network", "service_network_not_allowed")
    assert [v.rule for v in decision.verdicts] == list(engine.RULE_ORDER)
    assert [v.verdict for v in decision.verdicts][:4] == [Verdict.FAIL, Verdict.FAIL, Verdict.FAIL, Verdict.FAIL]


def test_parse_networks__bad_cidr_raises_and_blank_lines_are_skipped():
    assert nets("10.0.0.1/8", " ", "2001:db8::1") == parse_networks(["10.0.0.0/8", "2001:db8::1/128"])
    with pytest.raises(ValueError, match="does not appear"):
        parse_networks(["10.0.0.0/33x"])


# --- client certificate ---------------------------------------------------------------------------------

GOOD = CertificateFacts(valid=True, reason="certificate_valid", holder_username="alice", holder_device_id=7)

CERT_MATRIX = [
    # required, binding, certificate, end_user, device_id, verdict, reason
    (False, CertBinding.NONE, None, False, None, Verdict.SKIP, "certificate_not_required"),
    (True, CertBinding.NONE, None, False, None, Verdict.FAIL, "certificate_missing"),
    (
        True,
        CertBinding.NONE,
        CertificateFacts(False, "certificate_expired"),
        False,
        None,
        Verdict.FAIL,
        "certificate_expired",
    ),
    (
        True,
        CertBinding.NONE,
        CertificateFacts(False, "certificate_revoked"),
        False,
        None,
        Verdict.FAIL,
        "certificate_revoked",
    ),
    (True, CertBinding.NONE, GOOD, False, None, Verdict.PASS, "certificate_valid"),
    # A relying service's own certificate is never bound to the end user.
    (
        True,
        CertBinding.SUBSCRIBER,
        replace(GOOD, holder_username="svc"),
        False,
        None,
        Verdict.PASS,
        "certificate_valid",
    ),
    (True, CertBinding.SUBSCRIBER, GOOD, True, None, Verdict.PASS, "certificate_valid"),
    (
        True,
        CertBinding.SUBSCRIBER,
        replace(GOOD, holder_username="bob"),
        True,
        None,
        Verdict.FAIL,
        "certificate_not_bound_to_subscriber",
    ),
    (
        True,
        CertBinding.SUBSCRIBER,
        replace(GOOD, holder_username=""),
        True,
        None,
        Verdict.FAIL,
        "certificate_not_bound_to_subscriber",
    ),
    (True, CertBinding.DEVICE, GOOD, True, 7, Verdict.PASS, "certificate_valid"),
    (True, CertBinding.DEVICE, GOOD, True, 8, Verdict.FAIL, "certificate_not_bound_to_device"),
    (True, CertBinding.DEVICE, GOOD, True, None, Verdict.FAIL, "certificate_not_bound_to_device"),
]


@pytest.mark.parametrize(("required", "binding", "cert", "end_user", "device_id", "verdict", "reason"), CERT_MATRIX)
def test_evaluate__client_certificate_matrix(required, binding, cert, end_user, device_id, verdict, reason):
    rules = PolicyRules(client_cert_required=required, client_cert_binding=binding)
    connection = Connection(certificate=cert, end_user=end_user, device_id=device_id)
    decision = evaluate(rules=rules, connection=connection, subscriber=ALICE, phase=Phase.ACCESS, now=NOW)
    checked = verdict_of(decision, "client_certificate")
    assert (checked.verdict, checked.reason) == (verdict, reason)
    assert decision.allowed == (verdict != Verdict.FAIL)


def test_evaluate__subscriber_binding_without_a_subscriber_fails():
    rules = PolicyRules(client_cert_required=True, client_cert_binding=CertBinding.SUBSCRIBER)
    decision = evaluate(
        rules=rules,
        connection=Connection(certificate=GOOD, end_user=True),
        subscriber=None,
        phase=Phase.ACCESS,
        now=NOW,
    )
    assert decision.reason == "certificate_not_bound_to_subscriber"


# --- unknown users ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "outcome", "allowed"),
    [
        (UnknownUser.ENROLL, Outcome.ENROLL, False),
        (UnknownUser.ALLOW, Outcome.BYPASS, True),
        (UnknownUser.DENY, Outcome.DENY, False),
    ],
)
def test_evaluate__unknown_user_behaviour(behaviour, outcome, allowed):
    ghost = SubscriberFacts(username="ghost", exists=False)
    decision = evaluate(
        rules=PolicyRules(unknown_user=behaviour),
        connection=Connection(),
        subscriber=ghost,
        phase=Phase.PREAUTH,
        now=NOW,
    )
    assert (decision.outcome, decision.rule, decision.reason) == (outcome, "unknown_user", f"unknown_user_{behaviour}")
    assert decision.allowed is allowed


def test_evaluate__network_lock_applies_to_unknown_users_first():
    rules = PolicyRules(user_networks=NetworkRule(allow=nets("10.0.0.0/8")), unknown_user=UnknownUser.ALLOW)
    ghost = SubscriberFacts(username="ghost", exists=False)
    decision = evaluate(
        rules=rules, connection=Connection(end_user_ip="8.8.8.8"), subscriber=ghost, phase=Phase.PREAUTH, now=NOW
    )
    assert (decision.outcome, decision.rule) == (Outcome.DENY, "user_network")


# --- push fatigue -----------------------------------------------------------------------------------------

FATIGUE = PolicyRules(push_limit=3, push_window_seconds=600, cooldown_seconds=120, fraud_lockout_count=2)


def pushes(*ages_seconds: int) -> tuple[datetime, ...]:
    return tuple(NOW - timedelta(seconds=age) for age in ages_seconds)


PUSH_LIMIT_MATRIX = [
    # push ages (seconds before now), outcome, retry_after
    ((), Outcome.ALLOW, None),
    ((10, 20), Outcome.ALLOW, None),  # the 3rd push of the window is allowed
    ((10, 20, 30), Outcome.RATE_LIMITED, 570),  # the 4th (N+1st) is refused until the oldest leaves the window
    ((10, 20, 30, 40), Outcome.RATE_LIMITED, 570),  # two must leave: the second oldest decides
    ((10, 20, 600), Outcome.ALLOW, None),  # a push exactly one window old no longer counts
    ((10, 20, 700), Outcome.ALLOW, None),
    ((0, 0, 0), Outcome.RATE_LIMITED, 600),
]


@pytest.mark.parametrize(("ages", "outcome", "retry_after"), PUSH_LIMIT_MATRIX)
def test_evaluate__push_limit_matrix(ages, outcome, retry_after):
    alice = replace(ALICE, push_times=pushes(*ages))
    decision = evaluate(rules=FATIGUE, connection=Connection(), subscriber=alice, phase=Phase.PUSH, now=NOW)
    assert (decision.outcome, decision.retry_after) == (outcome, retry_after)
    if outcome == Outcome.RATE_LIMITED:
        assert (decision.rule, decision.reason) == ("push_limit", "too_many_pushes")


def test_evaluate__push_limit_ignored_before_a_push():
    alice = replace(ALICE, push_times=pushes(1, 2, 3, 4))
    decision = evaluate(rules=FATIGUE, connection=Connection(), subscriber=alice, phase=Phase.PREAUTH, now=NOW)
    assert decision.outcome == Outcome.ALLOW
    assert verdict_of(decision, "push_limit").verdict == Verdict.SKIP


@pytest.mark.parametrize(
    ("refused_ago", "outcome", "retry_after"),
    [
        (None, Outcome.ALLOW, None),
        (0, Outcome.RATE_LIMITED, 120),
        (119.5, Outcome.RATE_LIMITED, 1),
        (120, Outcome.ALLOW, None),
        (3600, Outcome.ALLOW, None),
    ],
)
def test_evaluate__cooldown_after_denial(refused_ago, outcome, retry_after):
    last = None if refused_ago is None else NOW - timedelta(seconds=refused_ago)
    alice = replace(ALICE, last_refusal_at=last)
    decision = evaluate(rules=FATIGUE, connection=Connection(), subscriber=alice, phase=Phase.PUSH, now=NOW)
    assert (decision.outcome, decision.retry_after) == (outcome, retry_after)
    if outcome == Outcome.RATE_LIMITED:
        assert (decision.rule, decision.reason) == ("push_cooldown", "cooling_down_after_denial")


@pytest.mark.parametrize(("strikes", "locks"), [(0, False), (1, False), (2, True), (5, True)])
def test_evaluate__fraud_lockout(strikes, locks):
    alice = replace(ALICE, strikes=strikes)
    decision = evaluate(rules=FATIGUE, connection=Connection(), subscriber=alice, phase=Phase.PREAUTH, now=NOW)
    assert decision.lock_subscriber is locks
    assert decision.outcome == (Outcome.DENY if locks else Outcome.ALLOW)
    if locks:
        assert (decision.rule, decision.reason) == ("fraud_lockout", "too_many_fraud_reports")


def test_evaluate__access_phase_checks_only_the_locks():
    alice = replace(ALICE, strikes=9, push_times=pushes(1, 2, 3, 4), last_refusal_at=NOW)
    decision = evaluate(rules=FATIGUE, connection=Connection(), subscriber=alice, phase=Phase.ACCESS, now=NOW)
    assert decision.outcome == Outcome.ALLOW
    assert {v.rule for v in decision.verdicts if v.verdict == Verdict.SKIP} >= {
        "fraud_lockout",
        "push_limit",
        "push_cooldown",
    }


def test_evaluate__rules_off_by_default():
    decision = evaluate(rules=PolicyRules(), connection=Connection(), subscriber=None, phase=Phase.PUSH, now=NOW)
    assert (decision.outcome, decision.reason) == (Outcome.ALLOW, "policy_passed")
    assert all(v.verdict == Verdict.SKIP for v in decision.verdicts)


# --- new device ---------------------------------------------------------------------------------------------

NEW_DEVICE = PolicyRules(new_device_minutes=30, user_networks=NetworkRule(allow=nets("10.0.0.0/8", "2001:db8::/32")))


@pytest.mark.parametrize(
    ("enrolled_minutes_ago", "ip", "known_ips", "verdict", "reason"),
    [
        ((5,), "203.0.113.7", (), Verdict.FAIL, "new_device_unknown_network"),
        ((5,), None, (), Verdict.FAIL, "new_device_unknown_network"),
        ((5, 45), "203.0.113.7", (), Verdict.PASS, "established_device"),
        ((30,), "203.0.113.7", (), Verdict.PASS, "established_device"),
        ((5,), "203.0.113.7", ("203.0.113.200",), Verdict.PASS, "known_network"),  # same /24 as before
        ((5,), "203.0.114.7", ("203.0.113.200",), Verdict.FAIL, "new_device_unknown_network"),
        ((5,), "2001:db9:1:2::9", ("2001:db9:1:2::1",), Verdict.PASS, "known_network"),  # same /64
        ((5,), "2001:db9:1:3::9", ("2001:db9:1:2::1", "bogus"), Verdict.FAIL, "new_device_unknown_network"),
        ((5,), "203.0.113.7", ("2001:db9:1:2::1",), Verdict.FAIL, "new_device_unknown_network"),
        ((5,), "10.9.9.9", (), Verdict.PASS, "known_network"),  # inside the allowed networks
        ((), "203.0.113.7", (), Verdict.SKIP, "not_applicable"),  # no device: nothing to judge
    ],
)
def test_evaluate__new_device_matrix(enrolled_minutes_ago, ip, known_ips, verdict, reason):
    alice = replace(
        ALICE,
        device_enrolled_at=tuple(NOW - timedelta(minutes=m) for m in enrolled_minutes_ago),
        known_ips=known_ips,
    )
    rules = replace(NEW_DEVICE, user_networks=NetworkRule()) if ip is None or not ip.startswith("10.") else NEW_DEVICE
    decision = evaluate(rules=rules, connection=Connection(end_user_ip=ip), subscriber=alice, phase=Phase.PUSH, now=NOW)
    checked = verdict_of(decision, "new_device")
    assert (checked.verdict, checked.reason) == (verdict, reason)
    if verdict == Verdict.FAIL:
        assert (decision.outcome, decision.rule) == (Outcome.DENY, "new_device")


@pytest.mark.parametrize(
    ("device_minutes_ago", "ip", "known_ips", "verdict", "reason"),
    [
        (5, "203.0.113.7", (), Verdict.FAIL, "new_device_unknown_network"),
        (45, "203.0.113.7", (), Verdict.PASS, "established_device"),
        (5, "203.0.113.7", ("203.0.113.1",), Verdict.PASS, "known_network"),
        (5, "10.2.3.4", (), Verdict.PASS, "known_network"),
        (None, "203.0.113.7", (), Verdict.SKIP, "not_applicable"),
    ],
)
def test_evaluate__new_device_when_a_device_approves(device_minutes_ago, ip, known_ips, verdict, reason):
    """Phase DECIDE judges the approving device only; every other rule is skipped."""
    enrolled = None if device_minutes_ago is None else NOW - timedelta(minutes=device_minutes_ago)
    # Established devices elsewhere do not help a new one that approves.
    alice = replace(ALICE, device_enrolled_at=(NOW - timedelta(days=9),), known_ips=known_ips, strikes=99)
    connection = Connection(end_user_ip=ip, device_enrolled_at=enrolled, device_id=3)
    rules = replace(NEW_DEVICE, client_cert_required=True, fraud_lockout_count=1, push_limit=1)
    decision = evaluate(rules=rules, connection=connection, subscriber=alice, phase=Phase.DECIDE, now=NOW)
    assert (verdict_of(decision, "new_device").verdict, verdict_of(decision, "new_device").reason) == (verdict, reason)
    assert {v.rule for v in decision.verdicts if v.verdict != Verdict.SKIP} <= {"new_device"}
    assert decision.allowed == (verdict != Verdict.FAIL)
