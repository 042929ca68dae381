"""A transaction's life through the relying API: async and sync auth, long-poll, cancel, timeouts."""

from __future__ import annotations

import threading
import time
import types
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from approvals import worker
from approvals.models import ApprovalRequest
from approvals.services import application_create
from audit.models import AuditEvent
from tests.helpers import SignedClient, audit_kinds, wait_until
from tests.integration.conftest import assert_problem, other_number

pytestmark = pytest.mark.django_db


def _status(relying, txid, wait=None):
    params = {"wait": str(wait)} if wait is not None else None
    response = relying.request("GET", f"/api/v1/auth/{txid}", params=params)
    assert response.status_code == 200, response.content
    return response.json()


def _cancel(relying, txid):
    return relying.request("POST", f"/api/v1/auth/{txid}/cancel")


# In-memory SQLite (the test database) fails a reader at once while another connection writes ("table is
# locked") instead of waiting, so a second thread writing during a request is tested on PostgreSQL only.
needs_concurrent_db = pytest.mark.skipif(
    connection.vendor == "sqlite", reason="in-memory SQLite cannot serve two connections writing and reading"
)


def _approve_during_wait(monkeypatch, settings, phone) -> list[str]:
    """The phone approves while the server waits: at the wait's first pause, in the same thread.

    Inside the test's transaction nothing commits, so no end notice wakes the wait: it re-reads the row.
    """
    settings.MFA_WAIT_RECHECK_SECONDS = 0.05
    decided: list[str] = []

    class ApprovingEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            if not decided:
                approval = ApprovalRequest.objects.get(status="pending")
                assert phone.decide(str(approval.pk), "approve", approval.number).status_code == 200
                decided.append(str(approval.pk))
            return super().wait(timeout)

    monkeypatch.setattr(
        "approvals.waiting.threading", types.SimpleNamespace(Event=ApprovingEvent, Thread=threading.Thread)
    )
    return decided


def _approve_when_pending(phone, *, delay: float = 0.0) -> threading.Thread:
    """A phone in another thread: waits for the pending request, then approves it with the right number."""

    def run() -> None:
        try:
            approval = wait_until(lambda: ApprovalRequest.objects.filter(status="pending").first())
            time.sleep(delay)
            response = phone.decide(str(approval.pk), "approve", approval.number)
            assert response.status_code == 200, response.content
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


# --- async and sync auth -------------------------------------------------------------------------


def test_auth_async__returns_at_once_with_txid_number_and_context_stored(relying, phone):
    response = relying.request(
        "POST",
        "/api/v1/auth",
        body={
            "username": "alice",
            "factor": "push",
            "async": True,
            "context": {
                "ip": "2001:db8::7",
                "hostname": "mail.example",
                "user_agent": "Firefox/140",
                "display_text": "Webmail",
                "type": "webmail",
            },
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["result"], body["decided_at"]) == ("pending", "waiting", None)
    assert body["number"].isdigit()
    assert len(body["number"]) == 3
    approval = ApprovalRequest.objects.get(pk=body["txid"])
    assert (approval.ip, approval.hostname, approval.user_agent, approval.display_text, approval.login_type) == (
        "2001:db8::7",
        "mail.example",
        "Firefox/140",
        "Webmail",
        "webmail",
    )
    assert (approval.expires_at - approval.created_at) == timedelta(seconds=60)


def test_auth_sync__decision_during_the_wait__answers_allow(relying, phone, settings, monkeypatch):
    settings.MFA_SYNC_AUTH_MAX_WAIT_SECONDS = 10
    decided = _approve_during_wait(monkeypatch, settings, phone)
    started = time.monotonic()
    response = relying.request("POST", "/api/v1/auth", body={"username": "alice", "async": False})
    assert response.status_code == 200, response.content
    assert (response.json()["txid"], response.json()["status"], response.json()["result"]) == (
        decided[0],
        "approved",
        "allow",
    )
    assert time.monotonic() - started < 2


@needs_concurrent_db
@pytest.mark.django_db(transaction=True)
def test_auth_sync__approved_from_another_connection__answers_allow(relying, phone, settings):
    settings.MFA_SYNC_AUTH_MAX_WAIT_SECONDS = 10
    settings.MFA_WAIT_RECHECK_SECONDS = 30  # the decision's end notice wakes the wait, not a re-read
    approver = _approve_when_pending(phone, delay=0.1)
    started = time.monotonic()
    response = relying.request("POST", "/api/v1/auth", body={"username": "alice", "async": False})
    approver.join(5)
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["result"]) == ("approved", "allow")
    assert time.monotonic() - started < 5


def test_auth_sync__nobody_answers__returns_pending_after_the_bounded_wait(relying, phone, settings):
    settings.MFA_SYNC_AUTH_MAX_WAIT_SECONDS = 0.3
    started = time.monotonic()
    response = relying.request("POST", "/api/v1/auth", body={"username": "alice", "async": False})
    elapsed = time.monotonic() - started
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["result"]) == ("pending", "waiting")
    assert 0.25 <= elapsed < 2


# --- long-poll -----------------------------------------------------------------------------------


def test_status_long_poll__decision_during_the_wait__returned(relying, phone, settings, monkeypatch):
    txid = relying.auth("alice").json()["txid"]
    decided = _approve_during_wait(monkeypatch, settings, phone)
    started = time.monotonic()
    status = _status(relying, txid, wait=10)
    assert decided == [txid]
    assert (status["status"], status["result"]) == ("approved", "allow")
    assert time.monotonic() - started < 2


@needs_concurrent_db
@pytest.mark.django_db(transaction=True)
def test_status_long_poll__approved_from_another_connection__returned(relying, phone, settings):
    settings.MFA_WAIT_RECHECK_SECONDS = 30  # the decision's end notice wakes the wait, not a re-read
    txid = relying.auth("alice").json()["txid"]
    approver = _approve_when_pending(phone, delay=0.2)
    started = time.monotonic()
    status = _status(relying, txid, wait=10)
    approver.join(5)
    assert (status["status"], status["result"]) == ("approved", "allow")
    assert time.monotonic() - started < 5


def test_status_long_poll__bounded_by_setting(relying, phone, settings):
    settings.MFA_STATUS_MAX_WAIT_SECONDS = 0.3
    txid = relying.auth("alice").json()["txid"]
    started = time.monotonic()
    assert _status(relying, txid, wait=30)["status"] == "pending"
    assert 0.25 <= time.monotonic() - started < 2


def test_status_long_poll__transaction_expires_while_waiting__timeout(relying, phone, time_machine):
    time_machine.move_to(timezone.now(), tick=True)
    txid = relying.auth("alice").json()["txid"]
    shifter = threading.Timer(0.1, lambda: time_machine.shift(61))
    shifter.start()
    status = _status(relying, txid, wait=5)
    shifter.join()
    assert (status["status"], status["result"], status["status_reason"]) == ("timeout", "deny", "timeout")


def test_status__decided_transaction__answers_without_waiting(relying, phone):
    created = relying.auth("alice").json()
    phone.decide(created["txid"], "deny")
    started = time.monotonic()
    status = _status(relying, created["txid"], wait=30)
    assert (status["status"], status["result"], status["status_reason"]) == ("denied", "deny", "user_deny")
    assert time.monotonic() - started < 1


# --- cancel --------------------------------------------------------------------------------------


def test_cancel__pending__cancelled_and_twice_is_harmless(relying, phone):
    txid = relying.auth("alice").json()["txid"]
    first = _cancel(relying, txid)
    assert first.status_code == 200
    assert (first.json()["status"], first.json()["result"]) == ("cancelled", "deny")
    second = _cancel(relying, txid)
    assert second.status_code == 200
    assert second.json()["status"] == "cancelled"
    assert audit_kinds(approval_id=txid) == ["approval.created", "approval.cancelled"]
    # The phone no longer sees it, and cannot approve it any more.
    assert phone.get("approvals").json() == []
    assert_problem(
        phone.decide(txid, "approve", ApprovalRequest.objects.get(pk=txid).number), 409, "approval_already_decided"
    )
    assert _status(relying, txid)["status"] == "cancelled"


def test_cancel__after_approval__409_already_decided(relying, phone):
    created = relying.auth("alice").json()
    assert phone.decide(created["txid"], "approve", created["number"]).status_code == 200
    body = assert_problem(_cancel(relying, created["txid"]), 409, "approval_already_decided")
    assert body["fields"] == {"status": "approved"}
    assert _status(relying, created["txid"])["result"] == "allow"


def test_cancel__unknown_transaction__404(relying):
    assert_problem(_cancel(relying, "00000000-0000-4000-8000-000000000000"), 404, "approval_not_found")


def test_cancel__another_applications_transaction__404_and_it_stays_pending(relying, phone, tenant):
    txid = relying.auth("alice").json()["txid"]
    other = application_create(tenant=tenant, name="VPN")
    intruder = SignedClient(Client(), other.application.integration_key, other.secret_key)
    assert_problem(_cancel(intruder, txid), 404, "approval_not_found")
    assert _status(relying, txid)["status"] == "pending"
    assert audit_kinds(approval_id=txid) == ["approval.created"]


# --- timeouts and terminal states ------------------------------------------------------------------


def test_timeout__pending_past_expiry__timeout_on_read(relying, phone, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    txid = relying.auth("alice").json()["txid"]
    time_machine.shift(59)
    assert _status(relying, txid)["status"] == "pending"
    time_machine.shift(1)
    status = _status(relying, txid)
    assert (status["status"], status["result"], status["status_reason"]) == ("timeout", "deny", "timeout")
    assert audit_kinds(approval_id=txid) == ["approval.created", "approval.timeout"]
    assert _status(relying, txid)["status"] == "timeout"  # reading again changes nothing
    assert AuditEvent.objects.filter(kind="approval.timeout").count() == 1


def test_timeout__worker_sweep__times_out_only_the_due(relying, phone, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    old = relying.auth("alice").json()["txid"]
    time_machine.shift(30)
    young = relying.auth("alice").json()["txid"]
    time_machine.shift(31)
    assert worker.run_once()["expired"] == 1
    assert ApprovalRequest.objects.get(pk=old).status == "timeout"
    assert ApprovalRequest.objects.get(pk=young).status == "pending"
    assert worker.run_once()["expired"] == 0


def test_timeout__per_application_setting(relying, phone, issued_app, time_machine):
    issued_app.application.approval_timeout_seconds = 5
    issued_app.application.save(update_fields=["approval_timeout_seconds"])
    time_machine.move_to(timezone.now(), tick=False)
    txid = relying.auth("alice").json()["txid"]
    time_machine.shift(5)
    assert worker.run_once()["expired"] == 1
    assert _status(relying, txid)["status"] == "timeout"


def test_timeout__then_approve__409_approval_expired(relying, phone, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    created = relying.auth("alice").json()
    time_machine.shift(61)
    # Not swept yet: the decision itself notices the deadline passed.
    assert_problem(phone.decide(created["txid"], "approve", created["number"]), 409, "approval_expired")
    assert ApprovalRequest.objects.get(pk=created["txid"]).status == "timeout"
    # Swept: still refused, still timeout.
    assert_problem(phone.decide(created["txid"], "deny"), 409, "approval_expired")
    assert _status(relying, created["txid"])["status"] == "timeout"
    refused = AuditEvent.objects.filter(approval_id=created["txid"], kind="approval.decision_refused")
    assert [e.detail["reason"] for e in refused.order_by("id")] == ["approval_expired", "approval_expired"]


def test_terminal__deny_after_approve__409_and_still_approved(relying, phone):
    created = relying.auth("alice").json()
    assert phone.decide(created["txid"], "approve", created["number"]).status_code == 200
    for decision, number in (
        ("deny", ""),
        ("fraud", ""),
        ("approve", created["number"]),
        ("approve", other_number(created["number"])),
    ):
        proof = phone.proof(created["txid"], decision, number, timestamp=int(time.time()) - 10)
        body = assert_problem(phone.submit(created["txid"], proof), 409, "approval_already_decided")
        assert body["fields"] == {"status": "approved"}
    approval = ApprovalRequest.objects.get(pk=created["txid"])
    assert (approval.status, approval.status_reason) == ("approved", "user_approve")
    assert _status(relying, created["txid"])["result"] == "allow"


def test_terminal__approved_never_times_out(relying, phone, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    created = relying.auth("alice").json()
    phone.decide(created["txid"], "approve", created["number"])
    time_machine.shift(3600)
    assert worker.run_once()["expired"] == 0
    assert _status(relying, created["txid"])["status"] == "approved"
    assert_problem(_cancel(relying, created["txid"]), 409, "approval_already_decided")


def test_cancel__after_expiry__409_and_timeout(relying, phone, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    txid = relying.auth("alice").json()["txid"]
    time_machine.shift(61)
    body = assert_problem(_cancel(relying, txid), 409, "approval_already_decided")
    assert body["fields"] == {"status": "timeout"}
