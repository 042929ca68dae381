"""Signed decision webhooks to a real local HTTP receiver, with retries by the worker."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from approvals.models import ApprovalRequest, WebhookDelivery
from approvals.webhooks import webhook_signature
from approvals.worker import run_once
from audit.models import AuditEvent
from tests.helpers import SignedClient, wait_until
from tests.live.conftest import HOLD_SECONDS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def ok(request):
    return 200, {"ok": True}, 0


@pytest.fixture
def receiver(http_recorder, issued_app):
    """Starts a receiver with ``responder`` and makes it the application's callback URL."""

    def start(responder=ok):
        recorder = http_recorder(responder)
        issued_app.application.callback_url = f"{recorder.url}/mfa-hook"
        issued_app.application.save(update_fields=["callback_url"])
        return recorder

    return start


def delivery_for(txid: str) -> WebhookDelivery:
    return WebhookDelivery.objects.get(approval_id=txid)


def delivery_after_attempts(txid: str, attempts: int) -> WebhookDelivery:
    """The delivery once the sender recorded ``attempts`` (it writes just after the receiver answered)."""
    return wait_until(lambda: (delivery := delivery_for(txid)).attempts >= attempts and delivery, timeout=10)


def test_webhook__approved__receiver_gets_signed_decision(receiver, relying, phone, issued_app):
    hook = receiver()
    created = relying.auth("alice").json()
    assert phone.decide(created["txid"], "approve", created["number"]).status_code == 200

    (request,) = hook.wait_answered(1)
    assert request.path == "/mfa-hook"
    assert request.headers["content-type"] == "application/json"
    timestamp = request.headers["x-mfa-timestamp"]
    assert abs(int(timestamp) - time.time()) < 30
    expected = webhook_signature(secret=issued_app.secret_key, timestamp=timestamp, body=request.body)
    assert request.headers["x-mfa-signature"] == expected
    assert webhook_signature(secret="not-the-secret", timestamp=timestamp, body=request.body) != expected
    assert request.json() == {
        "event": "approval.decided",
        "approval_id": created["txid"],
        "status": "approved",
        "status_reason": "user_approve",
        "result": "allow",
        "username": "alice",
        "decided_at": ApprovalRequest.objects.get(pk=created["txid"]).decided_at.isoformat(),
    }
    delivery = delivery_after_attempts(created["txid"], 1)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, "")


def test_webhook__receiver_fails_first__worker_retries_after_backoff(receiver, relying, phone):
    hook = receiver(lambda request: (500, {"error": "busy"}, 0) if len(hook.requests) == 1 else ok(request))
    txid = relying.auth("alice").json()["txid"]
    before = timezone.now()
    assert phone.decide(txid, "deny").status_code == 200

    hook.wait_answered(1)
    failed = delivery_after_attempts(txid, 1)
    after = timezone.now()
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "http 500")
    backoff = timedelta(seconds=2)  # 2 ** attempts seconds after the failed attempt, which fell in [before, after]
    assert before + backoff <= failed.next_attempt_at <= after + backoff

    # Not due yet: nothing is sent early. On the real clock a stall of the test could make it due here.
    with time_machine.travel(failed.next_attempt_at - timedelta(seconds=1), tick=False):
        assert run_once()["webhooks"] == 0
    assert len(hook.requests) == 1

    with time_machine.travel(failed.next_attempt_at + timedelta(milliseconds=100), tick=True):
        assert run_once()["webhooks"] == 1
    delivered = delivery_for(txid)
    assert (delivered.status, delivered.attempts, delivered.last_error) == ("delivered", 2, "")
    assert len(hook.requests) == 2
    assert hook.requests[0].json() == hook.requests[1].json()
    assert hook.requests[1].json()["result"] == "deny"

    assert run_once()["webhooks"] == 0  # delivered means done
    assert len(hook.requests) == 2


def test_webhook__slow_receiver__decision_and_cancel_do_not_wait(receiver, relying, phone, settings):
    # The receiver holds each delivery until the test releases it, so both are in flight while the
    # requests are measured: a decision or cancel that waited for its webhook would take the sender's
    # whole timeout (30 s: slow, not failed). The deliveries are then released one after the other,
    # so their bookkeeping writes do not meet.
    settings.MFA_WEBHOOK_TIMEOUT_SECONDS = 30.0
    released: dict[str, threading.Event] = {}

    def held(request):
        released[request.json()["approval_id"]].wait(HOLD_SECONDS)
        return 200, {}, 0

    hook = receiver(held)
    first = relying.auth("alice", display_text="one").json()
    second = relying.auth("alice", display_text="two").json()
    released.update({first["txid"]: threading.Event(), second["txid"]: threading.Event()})

    try:
        started = time.monotonic()
        assert phone.decide(first["txid"], "approve", first["number"]).status_code == 200
        decide_seconds = time.monotonic() - started
        wait_until(lambda: len(hook.requests) == 1)  # the first delivery is now held by the receiver
        started = time.monotonic()
        cancelled = relying.request("POST", f"/api/v1/auth/{second['txid']}/cancel")
        cancel_seconds = time.monotonic() - started
        assert cancelled.status_code == 200, cancelled.json()
        assert cancelled.json()["status"] == "cancelled"

        assert decide_seconds < 5.0, f"device decision waited {decide_seconds:.2f}s for the webhook"
        assert cancel_seconds < 5.0, f"relying cancel waited {cancel_seconds:.2f}s for the webhook"
        released[first["txid"]].set()
        wait_until(lambda: delivery_for(first["txid"]).status == "delivered", timeout=10)
        released[second["txid"]].set()
        hook.wait_answered(2, timeout=10)
        wait_until(lambda: WebhookDelivery.objects.filter(status="delivered").count() == 2, timeout=10)
        assert [r.json()["status"] for r in hook.requests] == ["approved", "cancelled"]
    finally:
        for event in released.values():
            event.set()


def test_webhook__receiver_always_fails__gives_up_after_max_attempts_and_audits(receiver, relying, phone, settings):
    settings.MFA_WEBHOOK_MAX_ATTEMPTS = 3
    hook = receiver(lambda request: (503, {"error": "down"}, 0))
    txid = relying.auth("alice").json()["txid"]
    assert phone.decide(txid, "deny").status_code == 200
    hook.wait_answered(1)
    delivery_after_attempts(txid, 1)

    for attempt in (2, 3):
        due = delivery_for(txid).next_attempt_at
        with time_machine.travel(due + timedelta(milliseconds=100), tick=True):
            assert run_once()["webhooks"] == 1
        assert len(hook.requests) == attempt
    gave_up = delivery_for(txid)
    assert (gave_up.status, gave_up.attempts, gave_up.last_error) == ("failed", 3, "http 503")
    (audited,) = AuditEvent.objects.filter(kind="webhook.failed", approval_id=txid)
    assert audited.detail == {"attempts": 3, "error": "http 503"}

    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=True):
        assert run_once()["webhooks"] == 0
    assert len(hook.requests) == 3


def test_webhook__slow_receiver__sync_auth_answers_as_soon_as_decided(receiver, relying, phone, settings):
    # The receiver holds the webhook until the sync auth has answered (or the test gave up on it), and
    # the sync auth may wait 30 s: an answer that waited for the webhook or the deadline comes too late.
    settings.MFA_SYNC_AUTH_MAX_WAIT_SECONDS = 30
    released = threading.Event()

    def held(request):
        released.wait(HOLD_SECONDS)
        return 200, {}, 0

    hook = receiver(held)
    waiting_service = SignedClient(Client(), relying.ikey, relying.skey)

    def sync_auth():
        try:
            return waiting_service.request("POST", "/api/v1/auth", body={"username": "alice", "async": False})
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            answer = pool.submit(sync_auth)
            pending = wait_until(lambda: ApprovalRequest.objects.filter(status="pending").first(), timeout=10)
            assert phone.decide(str(pending.pk), "approve", pending.number).status_code == 200
            decided_at = time.monotonic()
            response = answer.result(timeout=15)
            waited = time.monotonic() - decided_at
        finally:
            released.set()
    assert response.status_code == 200, response.content
    assert (response.json()["txid"], response.json()["result"]) == (str(pending.pk), "allow")
    assert waited < 5.0, f"sync auth answered {waited:.2f}s after the decision (the receiver holds the webhook)"
    hook.wait_answered(1, timeout=10)


def test_webhook__worker_sweeps_while_first_attempt_in_flight__delivered_once(receiver, relying, phone):
    hook = receiver(lambda request: (200, {}, 0.5))
    txid = relying.auth("alice").json()["txid"]
    assert phone.decide(txid, "deny").status_code == 200
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # the worker keeps sweeping while the first attempt is in flight
        run_once()
    hook.wait_answered(1)
    delivered = delivery_after_attempts(txid, 1)
    assert (delivered.status, delivered.attempts) == ("delivered", 1)
    assert len(hook.requests) == 1
