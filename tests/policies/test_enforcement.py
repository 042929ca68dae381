"""The policy through the relying API and the device API: refusals, reasons, audit, nothing created."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from pki.models import IssuedCertificate
from tenants.models import Subscriber
from tests.conftest import make_device
from tests.integration.conftest import other_number
from tests.policies.certs import escaped

pytestmark = pytest.mark.django_db


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:400])
    body = response.json()
    assert body["code"] == code, body
    return body


def refusals() -> list[tuple[str, str]]:
    return [
        (e.detail["rule"], e.detail["reason"]) for e in AuditEvent.objects.filter(kind="policy.refused").order_by("id")
    ]


_attempt = iter(range(1_000_000))


def push(client, username: str = "alice", **context):
    """A fresh signed auth call (a distinct body, so the frozen clock does not make it a replay)."""
    return client.auth(username, display_text=f"attempt {next(_attempt)}", **context)


def preauth(client, username: str, ip: str | None = None):
    body = {"username": username} if ip is None else {"username": username, "ip": ip}
    return client.request("POST", "/api/v1/preauth", body=body)


# --- networks --------------------------------------------------------------------------------------------


def test_auth__user_network_denied__403_nothing_created_and_audited(
    relying, phone, subscriber, tenant_policy, django_capture_on_commit_callbacks
):
    tenant_policy(user_networks_allow="10.0.0.0/8\n2001:db8::/32", user_networks_deny="10.66.0.0/16  # lab")
    with django_capture_on_commit_callbacks() as refused_effects:
        body = problem(relying.auth("alice", ip="10.66.1.2"), 403, "policy_denied")
    assert body["fields"] == {"rule": "user_network", "reason": "user_network_denied"}
    assert ApprovalRequest.objects.count() == 0
    assert refused_effects == []  # nothing created, nothing to deliver
    assert list(
        AuditEvent.objects.exclude(kind__startswith="device.")
        .exclude(kind__startswith="enrollment.")
        .exclude(kind="application.created")
        .values_list("kind", flat=True)
    ) == ["policy.refused"]
    event = AuditEvent.objects.get(kind="policy.refused")
    assert (event.ip, event.subscriber_id, event.actor) == (
        "10.66.1.2",
        subscriber.pk,
        relying.ikey and f"app:{relying.ikey}",
    )
    assert event.detail["verdicts"]["user_network"] == "fail:user_network_denied"
    assert event.detail["phase"] == "push"

    with django_capture_on_commit_callbacks() as allowed_effects:
        created = relying.auth("alice", ip="2001:db8::7")
    assert created.status_code == 201, created.content
    approval = ApprovalRequest.objects.get()
    assert (approval.policy_rule, str(approval.ip)) == ("", "2001:db8::7")
    assert allowed_effects  # the push is queued for delivery only when the policy allowed it


def test_auth__allow_list_without_reported_ip__fails_closed(relying, phone, tenant_policy):
    tenant_policy(user_networks_allow="10.0.0.0/8")
    body = problem(relying.auth("alice"), 403, "policy_denied")
    assert body["fields"]["reason"] == "user_ip_unknown"


def test_preauth__network_and_unknown_user_rules(relying, phone, tenant_policy):
    tenant_policy(user_networks_deny="198.51.100.0/24")
    denied = preauth(relying, "alice", ip="198.51.100.9").json()
    assert (denied["result"], denied["reason"]) == ("deny", "user_network_denied")
    assert preauth(relying, "alice", ip="192.0.2.1").json()["result"] == "auth"
    assert refusals() == [("user_network", "user_network_denied")]


@pytest.mark.parametrize(
    ("behaviour", "result", "reason", "auth_status", "auth_code"),
    [
        ("enroll", "enroll", "unknown_user", 403, "enrollment_required"),
        ("deny", "deny", "unknown_user_deny", 403, "policy_denied"),
        ("allow", "allow", "unknown_user_allowed", 403, "enrollment_required"),
    ],
)
def test_unknown_user__behaviour(relying, tenant_policy, behaviour, result, reason, auth_status, auth_code):
    tenant_policy(unknown_user=behaviour)
    answer = preauth(relying, "ghost").json()
    assert (answer["result"], answer["reason"]) == (result, reason)
    problem(relying.auth("ghost"), auth_status, auth_code)
    assert ApprovalRequest.objects.count() == 0
    assert not Subscriber.objects.filter(username="ghost").exists()
    assert refusals() == ([("unknown_user", "unknown_user_deny")] * 2 if behaviour == "deny" else [])


def test_service_network__through_trusted_proxy_only(relying_via, phone, tenant_policy, settings):
    tenant_policy(service_networks_allow="192.0.2.0/24")
    direct = relying_via(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.10")
    body = problem(direct.request("GET", "/api/v1/check"), 403, "policy_denied")  # XFF from an untrusted peer: ignored
    assert body["fields"] == {"rule": "service_network", "reason": "service_network_not_allowed"}
    settings.MFA_TRUSTED_PROXIES = ["127.0.0.1/32"]
    assert direct.request("GET", "/api/v1/check").status_code == 200
    spoofed = relying_via(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.10, 203.0.113.5")
    assert problem(spoofed.auth("alice"), 403, "policy_denied")["fields"]["rule"] == "service_network"
    assert ApprovalRequest.objects.count() == 0


# --- client certificate on the relying API ----------------------------------------------------------------


def test_relying_client_certificate__uploaded_ca(relying_via, phone, tenant_policy, client_ca, settings):
    tenant_policy(client_cert_required=True, client_cert_ca="uploaded", client_cert_ca_pem=client_ca.pem)
    settings.MFA_TRUSTED_PROXIES = ["127.0.0.1/32"]
    good, _ = client_ca.issue("webmail-service")
    headers = {
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_X_SSL_CLIENT_CERT": escaped(good),
        "HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS",
    }
    assert relying_via(**headers).auth("alice").status_code == 201

    body = problem(relying_via(REMOTE_ADDR="127.0.0.1").auth("alice"), 403, "policy_denied")
    assert body["fields"] == {"rule": "client_certificate", "reason": "certificate_missing"}
    failed = {**headers, "HTTP_X_SSL_CLIENT_VERIFY": "FAILED:certificate has expired"}
    assert problem(relying_via(**failed).auth("alice"), 403, "policy_denied")["fields"]["reason"] == (
        "certificate_rejected_by_proxy"
    )
    # The same headers from a peer that is not a trusted proxy are ignored: no certificate.
    settings.MFA_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert (
        problem(relying_via(**headers).auth("alice"), 403, "policy_denied")["fields"]["reason"] == "certificate_missing"
    )
    assert ApprovalRequest.objects.count() == 1
    assert [r for _, r in refusals()] == ["certificate_missing", "certificate_rejected_by_proxy", "certificate_missing"]


# --- push fatigue -------------------------------------------------------------------------------------------------


def test_push_limit__lowered_below_the_pushes_already_sent__waits_for_the_newest_limit_to_age_out(
    relying, phone, tenant_policy, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    tenant_policy(push_limit=10, push_window_seconds=300, cooldown_seconds=0)
    for _ in range(4):  # pushes at 0, 60, 120 and 180 s
        assert push(relying).status_code == 201
        time_machine.shift(60)
    tenant_policy(push_limit=2)  # now at 240 s: the second newest push (120 s) frees a slot at 420 s

    body = problem(push(relying), 429, "push_rate_limited")

    assert body["fields"] == {"retry_after": 180, "rule": "push_limit", "reason": "too_many_pushes"}


def test_push_limit__pushes_dated_ahead_by_a_fast_clock_do_not_hide_the_ones_before(
    relying, phone, tenant_policy, time_machine
):
    start = timezone.now()
    time_machine.move_to(start - timedelta(seconds=60), tick=False)
    tenant_policy(push_limit=10, push_window_seconds=300, cooldown_seconds=0)
    for _ in range(3):
        assert push(relying).status_code == 201
    time_machine.move_to(start + timedelta(seconds=2), tick=False)  # a worker whose clock runs fast
    for _ in range(3):
        assert push(relying).status_code == 201
    time_machine.move_to(start, tick=False)
    tenant_policy(push_limit=3)

    problem(push(relying), 429, "push_rate_limited")


def test_push_limit__n_plus_first_refused_then_window_ends(relying, phone, tenant_policy, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    tenant_policy(push_limit=3, push_window_seconds=300, cooldown_seconds=0)
    for _ in range(3):
        assert push(relying).status_code == 201
    refused = push(relying)
    body = problem(refused, 429, "push_rate_limited")
    assert body["fields"] == {"retry_after": 300, "rule": "push_limit", "reason": "too_many_pushes"}
    assert refused["Retry-After"] == "300"
    assert ApprovalRequest.objects.count() == 3
    # Refused pushes do not count: retrying while limited does not extend the wait.
    time_machine.shift(150)
    problem(push(relying), 429, "push_rate_limited")
    time_machine.shift(151)
    assert push(relying).status_code == 201
    assert ApprovalRequest.objects.count() == 4
    assert refusals() == [("push_limit", "too_many_pushes")] * 2
    assert Subscriber.objects.get(username="alice").status == "active"


def test_cooldown__after_denial_not_after_timeout(relying, phone, tenant_policy, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    tenant_policy(cooldown_seconds=120, push_limit=0)
    # A push that simply times out starts no cool-down.
    timed_out = push(relying).json()
    time_machine.shift(61)
    assert relying.status(timed_out["txid"]).json()["status"] == "timeout"
    created = push(relying).json()
    assert phone.decide(created["txid"], "deny").status_code == 200
    body = problem(push(relying), 429, "push_rate_limited")
    assert (body["fields"]["rule"], body["fields"]["retry_after"]) == ("push_cooldown", 120)
    time_machine.shift(121)
    assert push(relying).status_code == 201


@pytest.mark.parametrize(
    ("refusal", "cools_down"),
    [("deny", True), ("fraud", True), ("wrong_number", True), ("cancel", False), ("approve", False)],
)
def test_cooldown__starts_after_the_users_refusals_only(
    relying, phone, tenant_policy, time_machine, refusal, cools_down
):
    time_machine.move_to(timezone.now(), tick=False)
    tenant_policy(cooldown_seconds=120, push_limit=0, fraud_lockout_count=0)
    created = push(relying).json()
    if refusal == "cancel":
        assert relying.request("POST", f"/api/v1/auth/{created['txid']}/cancel").status_code == 200
    elif refusal == "wrong_number":
        assert phone.decide(created["txid"], "approve", other_number(created["number"])).status_code == 400
    else:
        assert (
            phone.decide(created["txid"], refusal, created["number"] if refusal == "approve" else "").status_code == 200
        )
    time_machine.shift(30)

    if cools_down:
        assert problem(push(relying), 429, "push_rate_limited")["fields"]["retry_after"] == 90
    else:
        assert push(relying).status_code == 201


@pytest.mark.parametrize("refusals", [("fraud", "deny"), ("deny", "fraud")])
def test_cooldown__counts_from_the_latest_refusal_of_either_kind(relying, phone, tenant_policy, time_machine, refusals):
    time_machine.move_to(timezone.now(), tick=False)
    tenant_policy(cooldown_seconds=50, push_limit=0, fraud_lockout_count=0)
    for refusal in refusals:
        created = push(relying).json()
        assert phone.decide(created["txid"], refusal).status_code == 200
        time_machine.shift(60)
    time_machine.shift(-30)  # 90 s after the first refusal, 30 s after the second
    assert problem(push(relying), 429, "push_rate_limited")["fields"]["retry_after"] == 20


def test_cooldown__not_after_a_wrong_passcode(relying, passcode_phone, tenant_policy, time_machine):
    """A mistyped passcode is denied, but nobody refused a push: the next push is sent."""
    time_machine.move_to(timezone.now(), tick=False)
    tenant_policy(cooldown_seconds=120, push_limit=0, fraud_lockout_count=0)
    body = {"username": "alice", "passcode": other_number(passcode_phone.totp().now()), "context": {}}
    denied = relying.request("POST", "/api/v1/auth/passcode", body=body).json()
    assert (denied["status"], denied["status_reason"]) == ("denied", "passcode_invalid")

    assert push(relying).status_code == 201


def test_push_limit__counts_pushes_only__not_bypassed_logins_or_passcodes(
    relying, passcode_phone, tenant_policy, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    tenant_policy(push_limit=2, push_window_seconds=300, cooldown_seconds=0)
    alice = Subscriber.objects.get(username="alice")
    alice.status = Subscriber.Status.BYPASS
    alice.save()
    for _ in range(3):
        assert push(relying).json()["status_reason"] == "bypass"
    alice.status = Subscriber.Status.ACTIVE
    alice.save()
    body = {"username": "alice", "passcode": passcode_phone.totp().now(), "context": {}}
    assert relying.request("POST", "/api/v1/auth/passcode", body=body).json()["status"] == "approved"

    assert [push(relying).status_code for _ in range(3)] == [201, 201, 429]


def test_push_limit_and_cooldown_together__each_counts_its_own_facts(relying, phone, tenant_policy, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    tenant_policy(push_limit=3, push_window_seconds=600, cooldown_seconds=120, fraud_lockout_count=0)
    created = push(relying).json()
    assert phone.decide(created["txid"], "deny").status_code == 200
    time_machine.shift(60)
    assert problem(push(relying), 429, "push_rate_limited")["fields"]["rule"] == "push_cooldown"
    time_machine.shift(61)  # the cool-down is over; one push of three was used
    assert push(relying).status_code == 201
    assert push(relying).status_code == 201
    body = problem(push(relying), 429, "push_rate_limited")
    assert body["fields"] == {"retry_after": 479, "rule": "push_limit", "reason": "too_many_pushes"}


def test_fraud_lockout__locks_and_admin_unlock_clears(relying, phone, tenant_policy, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    tenant_policy(fraud_lockout_count=2, cooldown_seconds=0, push_limit=0)
    for _ in range(2):
        txid = push(relying).json()["txid"]
        assert phone.decide(txid, "fraud").status_code == 200
    body = problem(push(relying), 403, "policy_denied")
    assert body["fields"] == {"rule": "fraud_lockout", "reason": "too_many_fraud_reports"}
    alice = Subscriber.objects.get(username="alice")
    assert alice.status == "locked"
    assert AuditEvent.objects.filter(kind="subscriber.locked", subscriber_id=alice.pk).count() == 1
    assert preauth(relying, "alice").json()["result"] == "deny"
    # An admin unlock resets the strikes (tenants admin), so the rule lets the next push through.
    Subscriber.objects.filter(pk=alice.pk).update(status="active", failed_attempts=0)
    assert push(relying).status_code == 201


def test_new_device__refused_from_unknown_network_until_established(relying, subscriber, tenant_policy, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    tenant_policy(new_device_minutes=30, push_limit=0, cooldown_seconds=0, user_networks_allow="")
    make_device(subscriber)
    body = problem(push(relying, ip="203.0.113.7"), 403, "policy_denied")
    assert body["fields"] == {"rule": "new_device", "reason": "new_device_unknown_network"}
    time_machine.shift(timedelta(minutes=31))
    assert push(relying, ip="203.0.113.7").status_code == 201


# --- device API ------------------------------------------------------------------------------------------------------


def test_device_api__certificate_bound_to_the_device(phone, tenant_policy, client_ca, settings, subscriber):
    tenant_policy(
        client_cert_required=True,
        client_cert_binding="device",
        client_cert_ca="uploaded",
        client_cert_ca_pem=client_ca.pem,
    )
    settings.MFA_TRUSTED_PROXIES = ["127.0.0.1/32"]
    body = problem(phone.get("me"), 403, "policy_denied")
    assert body["fields"] == {"rule": "client_certificate", "reason": "certificate_missing"}
    mine, _ = client_ca.issue("alice", uri=f"urn:mfa:acme:alice:device:{phone.device_id}")
    other, _ = client_ca.issue("alice", uri=f"urn:mfa:acme:alice:device:{phone.device_id + 1000}")
    meta = {"HTTP_X_SSL_CLIENT_VERIFY": "SUCCESS", "REMOTE_ADDR": "127.0.0.1"}
    ok = phone.client.get("/api/v1/device/me", HTTP_X_SSL_CLIENT_CERT=escaped(mine), **meta, **phone.headers)
    assert ok.status_code == 200, ok.content
    wrong = phone.client.get("/api/v1/device/me", HTTP_X_SSL_CLIENT_CERT=escaped(other), **meta, **phone.headers)
    assert problem(wrong, 403, "policy_denied")["fields"]["reason"] == "certificate_not_bound_to_device"
    event = AuditEvent.objects.filter(kind="policy.refused").last()
    assert (event.actor, event.device_id, event.subscriber_id) == (
        f"device:{phone.device_id}",
        phone.device_id,
        subscriber.pk,
    )


def test_device_certificate_api__same_connection_lock_as_the_rest_of_the_device_api(phone, tenant_policy, client_ca):
    tenant_policy(client_cert_required=True, client_cert_ca="uploaded", client_cert_ca_pem=client_ca.pem)

    response = phone.client.post(
        "/api/v1/device/certificate",
        {"csr": "x", "timestamp": 0, "signature": "x"},
        content_type="application/json",
        **phone.headers,
    )

    body = problem(response, 403, "policy_denied")
    assert body["fields"] == {"rule": "client_certificate", "reason": "certificate_missing"}
    assert refusals() == [("client_certificate", "certificate_missing")]
    assert not IssuedCertificate.objects.exists()


def test_new_device__cannot_approve_from_unknown_network(relying, subscriber, tenant_policy, time_machine):
    """An established device gets the push; a device enrolled minutes ago may not approve it."""
    time_machine.move_to(timezone.now(), tick=False)
    old_phone = make_device(subscriber, name="Old phone")
    time_machine.shift(timedelta(hours=2))
    new_phone = make_device(subscriber, name="New phone")
    tenant_policy(new_device_minutes=30, push_limit=0, cooldown_seconds=0)
    created = push(relying, ip="203.0.113.7").json()
    body = problem(new_phone.decide(created["txid"], "approve", created["number"]), 403, "policy_denied")
    assert body["fields"] == {"rule": "new_device", "reason": "new_device_unknown_network"}
    approval = ApprovalRequest.objects.get(pk=created["txid"])
    assert (approval.status, approval.decided_by_id, approval.policy_rule) == ("pending", None, "new_device")
    event = AuditEvent.objects.get(kind="policy.refused")
    assert (str(event.approval_id), event.device_id, event.detail["phase"]) == (
        created["txid"],
        new_phone.device_id,
        "decide",
    )
    assert old_phone.decide(created["txid"], "approve", created["number"]).status_code == 200
    # From the same /24 as that approved login, the new device may approve.
    again = push(relying, ip="203.0.113.99").json()
    assert new_phone.decide(again["txid"], "approve", again["number"]).status_code == 200
    assert ApprovalRequest.objects.get(pk=again["txid"]).decided_by_id == new_phone.device_id
