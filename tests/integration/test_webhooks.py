"""Decision webhooks, the parts tests/live/test_webhooks.py (a real receiver) leaves out: every terminal state
queues one, the back-off doubles, delivery gives up after MFA_WEBHOOK_MAX_ATTEMPTS (audited). In-process, so
they also run on SQLite."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from approvals import worker
from approvals.models import WebhookDelivery
from approvals.services import application_create
from audit.models import AuditEvent
from tests.helpers import SignedClient

pytestmark = pytest.mark.django_db

NOBODY_LISTENS = "http://127.0.0.1:9/mfa-callback"  # the discard port: connection refused at once


@pytest.fixture
def hooked(tenant) -> SignedClient:
    issued = application_create(tenant=tenant, name="Webmail with callback", callback_url=NOBODY_LISTENS)
    return SignedClient(Client(), issued.application.integration_key, issued.secret_key)


def test_every_terminal_state__queues_one_webhook(hooked, phone, time_machine, no_push_fatigue):
    time_machine.move_to(timezone.now(), tick=False)
    txids = {
        name: hooked.auth("alice", display_text=name).json()
        for name in ("approve", "deny", "fraud", "cancel", "timeout")
    }
    phone.decide(txids["approve"]["txid"], "approve", txids["approve"]["number"])
    phone.decide(txids["deny"]["txid"], "deny")
    phone.decide(txids["fraud"]["txid"], "fraud")
    hooked.request("POST", f"/api/v1/auth/{txids['cancel']['txid']}/cancel")
    time_machine.shift(61)
    worker.run_once()
    payloads = {d.payload["approval_id"]: d.payload for d in WebhookDelivery.objects.all()}
    assert {
        txid["txid"]: (payloads[txid["txid"]]["status"], payloads[txid["txid"]]["result"]) for txid in txids.values()
    } == {
        txids["approve"]["txid"]: ("approved", "allow"),
        txids["deny"]["txid"]: ("denied", "deny"),
        txids["fraud"]["txid"]: ("fraud", "deny"),
        txids["cancel"]["txid"]: ("cancelled", "deny"),
        txids["timeout"]["txid"]: ("timeout", "deny"),
    }
    assert WebhookDelivery.objects.count() == 5
    assert {p["username"] for p in payloads.values()} == {"alice"}


def test_no_callback_url__no_webhook(relying, phone):
    created = relying.auth("alice").json()
    assert phone.decide(created["txid"], "approve", created["number"]).status_code == 200
    assert not WebhookDelivery.objects.exists()


def test_failing_callback__doubling_back_off_then_given_up_and_audited(hooked, phone, settings, time_machine):
    settings.MFA_WEBHOOK_MAX_ATTEMPTS = 3
    time_machine.move_to(timezone.now(), tick=False)
    txid = hooked.auth("alice").json()["txid"]
    phone.decide(txid, "deny")
    assert worker.run_once()["webhooks"] == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "ConnectionError")
    assert delivery.next_attempt_at == timezone.now() + timedelta(seconds=2)
    assert worker.run_once()["webhooks"] == 0  # not due yet
    time_machine.shift(2)
    assert worker.run_once()["webhooks"] == 1
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == timezone.now() + timedelta(seconds=4)  # doubled
    time_machine.shift(4)
    assert worker.run_once()["webhooks"] == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert AuditEvent.objects.filter(kind="webhook.failed", approval_id=txid).count() == 1
    time_machine.shift(3600)
    assert worker.run_once()["webhooks"] == 0  # given up for good
