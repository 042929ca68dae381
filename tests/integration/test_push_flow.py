"""The push approval round trip through the public APIs (relying service and device)."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from tests.helpers import free_port, wait_until


@pytest.mark.django_db(transaction=True)
def test_auth__approve_with_matching_number__relying_status_allows(relying, phone, push_outbox):
    created = relying.auth("alice", ip="203.0.113.7", display_text="Webmail login", type="webmail")
    assert created.status_code == 201, created.json()
    txid, number = created.json()["txid"], created.json()["number"]
    assert len(number) == 3
    assert created.json()["result"] == "waiting"

    pending = phone.get("approvals").json()
    assert [p["approval_id"] for p in pending] == [txid]
    assert pending[0]["ip"] == "203.0.113.7"
    assert pending[0]["display_text"] == "Webmail login"
    assert "number" not in pending[0]

    decided = phone.decide(txid, "approve", number)
    assert decided.status_code == 200, decided.json()
    status = relying.status(txid).json()
    assert (status["status"], status["result"]) == ("approved", "allow")
    assert ApprovalRequest.objects.get(pk=txid).decided_by_id == phone.device_id
    assert AuditEvent.objects.filter(approval_id=txid, kind="approval.approved").count() == 1


@pytest.mark.django_db
def test_auth__wrong_number__denies_and_counts_failure(relying, phone, subscriber):
    txid = relying.auth("alice").json()["txid"]
    response = phone.decide(txid, "approve", "999" if ApprovalRequest.objects.get(pk=txid).number != "999" else "998")
    assert response.status_code == 400
    assert response.json()["code"] == "number_mismatch"
    assert relying.status(txid).json()["result"] == "deny"
    subscriber.refresh_from_db()
    assert subscriber.failed_attempts == 1


@pytest.mark.django_db(transaction=True)
def test_auth__live_channel_unreachable__login_goes_on_and_phone_still_pushed(
    relying, phone, subscriber, push_outbox, settings, caplog
):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "mfa_server.channel_layers.BlockingPublishPubSubChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}"]},  # nothing listens there
        }
    }
    created = relying.auth("alice")
    assert created.status_code == 201, created.json()
    wait_until(lambda: len(push_outbox) == 1)
    assert push_outbox[0].data == {"approval_id": created.json()["txid"]}
    assert f"live notice to subscriber-{subscriber.pk} not sent" in caplog.text
