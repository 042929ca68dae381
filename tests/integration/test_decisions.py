"""Device decisions: signed proofs, number matching, replays, revocation, lockout; every refusal audited."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.models import ApprovalRequest, UsedProof
from audit.models import AuditEvent
from devices.models import Device
from devices.services import device_revoke
from tenants.models import Subscriber
from tests.conftest import make_device
from tests.integration.conftest import assert_problem, other_number

pytestmark = pytest.mark.django_db(transaction=True)  # autocommit, as in production: the one-statement decision


def _refusals(txid: str | None = None) -> list[str]:
    events = AuditEvent.objects.filter(kind="approval.decision_refused").order_by("id")
    if txid:
        events = events.filter(approval_id=txid)
    return [event.detail["reason"] for event in events]


@pytest.fixture
def tx(relying, phone) -> dict[str, str]:
    created = relying.auth("alice", ip="203.0.113.7", display_text="Webmail login")
    assert created.status_code == 201
    return created.json()


def test_device_sees_context_but_not_the_number(phone, tx):
    detail = phone.get(f"approvals/{tx['txid']}")
    assert detail.status_code == 200
    body = detail.json()
    assert (body["approval_id"], body["application"], body["ip"], body["number_digits"]) == (
        tx["txid"],
        "Webmail",
        "203.0.113.7",
        3,
    )
    assert tx["number"] not in {str(v) for k, v in body.items() if k != "approval_id"}
    assert "number" not in body


def test_push_carries_only_the_transaction_id(relying, phone, push_outbox, django_capture_on_commit_callbacks):
    from tests.helpers import wait_until

    with django_capture_on_commit_callbacks(execute=True):
        txid = relying.auth("alice", ip="203.0.113.7", display_text="Webmail login").json()["txid"]
    wait_until(lambda: push_outbox)
    assert [(m.device_id, m.data) for m in push_outbox] == [(phone.device_id, {"approval_id": txid})]


def test_approve__right_number__approved_and_audited(relying, phone, subscriber, tx):
    Subscriber.objects.filter(pk=subscriber.pk).update(failed_attempts=2)
    response = phone.decide(tx["txid"], "approve", tx["number"])
    assert response.status_code == 200
    assert response.json() == {"approval_id": tx["txid"], "status": "approved"}
    subscriber.refresh_from_db()
    assert subscriber.failed_attempts == 0  # an approval resets the count
    event = AuditEvent.objects.get(kind="approval.approved")
    assert (str(event.approval_id), event.device_id, event.actor) == (
        tx["txid"],
        phone.device_id,
        f"device:{phone.device_id}",
    )


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_decision__nothing_else_to_write__proof_decision_and_audit_in_one_statement(relying, phone, tx, decision):
    with CaptureQueriesContext(connection) as captured:
        response = phone.decide(tx["txid"], decision, tx["number"])
    assert response.status_code == 200
    status = {"approve": "approved", "deny": "denied"}[decision]
    assert ApprovalRequest.objects.get(pk=tx["txid"]).status == status
    assert AuditEvent.objects.filter(kind=f"approval.{status}", approval_id=tx["txid"]).count() == 1
    assert UsedProof.objects.count() == 1
    if connection.vendor == "postgresql":  # besides the reads, one statement: no BEGIN, no COMMIT
        writes = [query["sql"] for query in captured.captured_queries if not query["sql"].startswith("SELECT")]
        assert [sql.split(" ", 3)[:3] for sql in writes] == [["WITH", "proof", "AS"]], writes


def test_approve__past_the_deadline__expired_and_refused(relying, phone, tx, time_machine):
    time_machine.move_to(timezone.now() + timedelta(seconds=61), tick=False)
    assert_problem(phone.decide(tx["txid"], "approve", tx["number"]), 409, "approval_expired")
    assert ApprovalRequest.objects.get(pk=tx["txid"]).status == "timeout"
    assert _refusals(tx["txid"]) == ["approval_expired"]
    assert not AuditEvent.objects.filter(kind="approval.approved").exists()


def test_approve__wrong_number__denied_and_failure_counted(relying, phone, subscriber, tx):
    assert_problem(phone.decide(tx["txid"], "approve", other_number(tx["number"])), 400, "number_mismatch")
    approval = ApprovalRequest.objects.get(pk=tx["txid"])
    assert (approval.status, approval.status_reason) == ("denied", "number_mismatch")
    subscriber.refresh_from_db()
    assert subscriber.failed_attempts == 1
    assert AuditEvent.objects.get(kind="approval.denied").detail == {"reason": "number_mismatch"}
    # The right number afterwards changes nothing.
    assert_problem(phone.decide(tx["txid"], "approve", tx["number"]), 409, "approval_already_decided")


def test_approve__without_a_number__fails_and_counts(relying, phone, subscriber, tx):
    assert_problem(phone.decide(tx["txid"], "approve", ""), 400, "number_mismatch")
    assert ApprovalRequest.objects.get(pk=tx["txid"]).status == "denied"
    subscriber.refresh_from_db()
    assert subscriber.failed_attempts == 1


def test_deny__plain_denial__denied_not_counted(relying, phone, subscriber, tx):
    response = phone.decide(tx["txid"], "deny")
    assert response.status_code == 200
    assert response.json()["status"] == "denied"
    subscriber.refresh_from_db()
    assert subscriber.failed_attempts == 0
    assert relying.status(tx["txid"]).json()["result"] == "deny"


def test_fraud__status_fraud_and_counted(relying, phone, subscriber, tx):
    response = phone.decide(tx["txid"], "fraud")
    assert response.status_code == 200
    assert response.json()["status"] == "fraud"
    status = relying.status(tx["txid"]).json()
    assert (status["status"], status["result"], status["status_reason"]) == ("fraud", "deny", "user_fraud")
    subscriber.refresh_from_db()
    assert subscriber.failed_attempts == 1
    assert AuditEvent.objects.filter(kind="approval.fraud", approval_id=tx["txid"]).count() == 1


def test_proof_for_another_transaction__proof_invalid(relying, phone, tx):
    second = relying.auth("alice").json()
    proof = phone.proof(tx["txid"], "approve", second["number"])
    assert_problem(phone.submit(second["txid"], proof), 400, "proof_invalid")
    assert ApprovalRequest.objects.get(pk=second["txid"]).status == "pending"
    assert _refusals(second["txid"]) == ["proof_invalid"]


@pytest.mark.parametrize("field", ["decision", "number", "timestamp"])
def test_proof_altered_after_signing__proof_invalid(relying, phone, tx, field):
    proof = phone.proof(tx["txid"], "deny", "")
    proof = {**proof, "decision": "approve"} if field == "decision" else proof
    proof = {**proof, "number": tx["number"]} if field == "number" else proof
    proof = {**proof, "timestamp": proof["timestamp"] - 1} if field == "timestamp" else proof
    assert_problem(phone.submit(tx["txid"], proof), 400, "proof_invalid")
    assert ApprovalRequest.objects.get(pk=tx["txid"]).status == "pending"


def test_proof_signed_by_another_device__proof_invalid(relying, phone, bob_phone, tx):
    from tests.helpers import PhoneDevice

    stranger_key, _ = PhoneDevice.new_key()
    forged = PhoneDevice(phone.client, stranger_key, phone.device_id, phone.token)
    assert_problem(forged.decide(tx["txid"], "approve", tx["number"]), 400, "proof_invalid")


def test_same_proof_twice__proof_reused(relying, phone, tx):
    proof = phone.proof(tx["txid"], "deny")
    assert phone.submit(tx["txid"], proof).status_code == 200
    assert_problem(phone.submit(tx["txid"], proof), 409, "proof_reused")
    assert _refusals(tx["txid"]) == ["proof_reused"]


def test_refused_proof_cannot_be_replayed_later(relying, phone, tx):
    """A proof is consumed even when its decision fails (here: a wrong number), so it can never count twice."""
    proof = phone.proof(tx["txid"], "approve", other_number(tx["number"]))
    assert_problem(phone.submit(tx["txid"], proof), 400, "number_mismatch")
    assert_problem(phone.submit(tx["txid"], proof), 409, "proof_reused")


@pytest.mark.parametrize("age", [-121, 121, 10_000])
def test_stale_or_future_proof__proof_stale(relying, phone, tx, age, time_machine):
    # A stopped clock keeps 121 s one second past the allowed skew (a second boundary passed between
    # signing and checking would bring a future proof within it).
    time_machine.move_to(timezone.now(), tick=False)
    proof = phone.proof(tx["txid"], "approve", tx["number"], timestamp=int(time.time()) - age)
    assert_problem(phone.submit(tx["txid"], proof), 400, "proof_stale")
    assert ApprovalRequest.objects.get(pk=tx["txid"]).status == "pending"
    assert _refusals(tx["txid"]) == ["proof_stale"]


def test_revoked_device__401_device_revoked_and_audited(relying, phone, tx):
    device_revoke(device=Device.objects.get(pk=phone.device_id), actor="test")
    response = phone.decide(tx["txid"], "approve", tx["number"])
    assert_problem(response, 401, "device_revoked")
    assert response["WWW-Authenticate"].startswith("Device")
    assert ApprovalRequest.objects.get(pk=tx["txid"]).status == "pending"
    assert AuditEvent.objects.filter(kind="device.revoked_refused", device_id=phone.device_id).count() == 1
    assert_problem(phone.get("approvals"), 401, "device_revoked")


def test_revoked_device__repeated_calls__refused_each_time_audited_once(phone):
    device_revoke(device=Device.objects.get(pk=phone.device_id), actor="test")
    for _ in range(5):
        assert_problem(phone.get("approvals"), 401, "device_revoked")
    # A stale token cannot flood the audit chain: one row per device per minute.
    assert AuditEvent.objects.filter(kind="device.revoked_refused", device_id=phone.device_id).count() == 1


def test_another_subscribers_transaction__404_and_audited(relying, phone, bob_phone, tx):
    assert_problem(bob_phone.decide(tx["txid"], "approve", tx["number"]), 404, "approval_not_found")
    assert_problem(bob_phone.get(f"approvals/{tx['txid']}"), 404, "approval_not_found")
    assert bob_phone.get("approvals").json() == []
    assert ApprovalRequest.objects.get(pk=tx["txid"]).status == "pending"
    event = AuditEvent.objects.get(kind="approval.decision_refused")
    assert (event.device_id, event.detail["reason"]) == (bob_phone.device_id, "approval_not_found")


@pytest.mark.parametrize("call", ["fetch", "decide"])
def test_unknown_transaction__404_not_found(phone, call):
    unknown = str(uuid.uuid4())
    response = phone.get(f"approvals/{unknown}") if call == "fetch" else phone.decide(unknown, "deny")
    assert_problem(response, 404, "approval_not_found")


@pytest.mark.parametrize("call", ["fetch", "decide"])
def test_device_call_about_a_transaction__read_with_the_device_in_one_statement(relying, phone, tx, call):
    with CaptureQueriesContext(connection) as captured:
        response = phone.get(f"approvals/{tx['txid']}") if call == "fetch" else phone.decide(tx["txid"], "deny")
    assert response.status_code == 200
    reads = [query["sql"] for query in captured.captured_queries if query["sql"].startswith("SELECT")]
    transaction_reads = [sql for sql in reads if '"approvals_approvalrequest"' in sql]
    assert len(transaction_reads) == 1, reads
    assert '"devices_device"' in transaction_reads[0]


def test_second_device_of_the_same_subscriber__may_decide(relying, phone, subscriber, tx):
    other = make_device(subscriber, name="Alice tablet")
    assert other.decide(tx["txid"], "approve", tx["number"]).status_code == 200
    assert ApprovalRequest.objects.get(pk=tx["txid"]).decided_by_id == other.device_id


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"decision": "maybe", "timestamp": 1, "signature": "A" * 20}, id="unknown-decision"),
        pytest.param({"decision": "deny", "timestamp": 1, "signature": "not base64url!"}, id="bad-signature"),
        pytest.param({"decision": "deny", "timestamp": -5, "signature": "A" * 20}, id="negative-time"),
        pytest.param({"decision": "deny", "timestamp": 10**400, "signature": "A" * 20}, id="huge-time"),
        pytest.param({"decision": "deny", "timestamp": 1.5, "signature": "A" * 20}, id="fractional-time"),
        pytest.param({"decision": "deny", "number": "12a", "timestamp": 1, "signature": "A" * 20}, id="bad-number"),
        pytest.param({"decision": "deny"}, id="missing"),
    ],
)
def test_malformed_decision__400_invalid_input_nothing_changes(relying, phone, tx, body):
    before = AuditEvent.objects.count()
    assert_problem(phone.submit(tx["txid"], body), 400, "invalid_input")
    assert ApprovalRequest.objects.get(pk=tx["txid"]).status == "pending"
    assert AuditEvent.objects.count() == before


def test_lockout__after_threshold_failures__locked_and_preauth_denies(
    relying, phone, subscriber, settings, no_push_fatigue
):
    settings.MFA_LOCKOUT_THRESHOLD = 3
    for attempt in range(3):
        assert Subscriber.objects.get(pk=subscriber.pk).status == "active", attempt
        created = relying.auth("alice", display_text=f"attempt {attempt}").json()
        decision = ("fraud", "") if attempt == 1 else ("approve", other_number(created["number"]))
        phone.decide(created["txid"], *decision)
    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.failed_attempts) == ("locked", 3)
    assert AuditEvent.objects.filter(kind="subscriber.locked", subscriber_id=subscriber.pk).count() == 1
    preauth = relying.request("POST", "/api/v1/preauth", body={"username": "alice"}).json()
    assert (preauth["result"], preauth["reason"]) == ("deny", "locked")
    assert_problem(relying.auth("alice"), 403, "subscriber_denied")


def test_lockout__plain_denials_and_timeouts_do_not_count(
    relying, phone, subscriber, settings, time_machine, no_push_fatigue
):
    from approvals import worker

    settings.MFA_LOCKOUT_THRESHOLD = 2
    for attempt in range(3):
        txid = relying.auth("alice", display_text=f"attempt {attempt}").json()["txid"]
        assert phone.decide(txid, "deny").status_code == 200
    time_machine.move_to(time.time(), tick=False)
    for attempt in range(3):
        relying.auth("alice", display_text=f"unanswered {attempt}")
    time_machine.shift(61)
    assert worker.run_once()["expired"] == 3
    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.failed_attempts) == ("active", 0)


def test_every_refusal_is_audited(relying, phone, bob_phone, tx, no_push_fatigue):
    second = relying.auth("alice").json()
    phone.submit(second["txid"], phone.proof(tx["txid"], "deny"))  # proof_invalid
    phone.submit(tx["txid"], phone.proof(tx["txid"], "deny", timestamp=int(time.time()) - 500))  # proof_stale
    proof = phone.proof(tx["txid"], "deny")
    phone.submit(tx["txid"], proof)
    phone.submit(tx["txid"], proof)  # proof_reused
    phone.decide(tx["txid"], "approve", tx["number"])  # approval_already_decided
    bob_phone.decide(second["txid"], "deny")  # approval_not_found
    assert sorted(_refusals()) == sorted(
        ["proof_invalid", "proof_stale", "proof_reused", "approval_already_decided", "approval_not_found"]
    )
    phone.decide(second["txid"], "approve", other_number(second["number"]))  # number_mismatch: a denial
    assert AuditEvent.objects.get(approval_id=second["txid"], kind="approval.denied").detail == {
        "reason": "number_mismatch"
    }
