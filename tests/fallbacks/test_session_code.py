"""Session codes: delivered only over the devices' channel, verified once by the relying service."""

from __future__ import annotations

import time

import pytest
import time_machine
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from approvals.models import ApprovalRequest
from fallbacks.models import OneTimeCode
from mfa_server.asgi import application as asgi_application
from policies.models import Policy
from tests.conftest import make_device
from tests.fallbacks.helpers import (
    fallback,
    passcode,
    pushed_before_a_later_push,
    session_codes,
    snapshot,
    start_push,
    streak,
    verify,
    wrong,
)
from tests.helpers import audit_kinds, db_text, wait_until

pytestmark = pytest.mark.django_db


def test_session_code__fallback_from_push__code_only_on_device__verify_approves(relying, phone, subscriber):
    txid = start_push(relying)
    response = fallback(relying, txid, "session_code")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["txid"], body["status"], body["result"]) == (txid, "pending", "waiting")
    (delivered,) = session_codes(phone)
    code = delivered["code"]
    assert delivered["approval_id"] == txid
    assert delivered["application"] == "Webmail"
    assert len(code) == 6
    assert code not in response.content.decode()
    row = OneTimeCode.objects.get(approval_id=txid)
    assert code not in row.code_hash
    assert code not in row.code_encrypted
    assert row.factor == "session_code"
    assert ApprovalRequest.objects.get(pk=txid).factor == "session_code"

    verified = verify(relying, txid, code)
    assert verified.status_code == 200, verified.json()
    assert (verified.json()["status"], verified.json()["result"], verified.json()["status_reason"]) == (
        "approved",
        "allow",
        "session_code_verified",
    )
    row.refresh_from_db()
    assert row.used_at is not None
    assert row.code_encrypted == ""
    assert session_codes(phone) == []
    assert code not in db_text()
    assert audit_kinds(approval_id=txid) == ["approval.created", "fallback.code_issued", "approval.approved"]

    again = verify(relying, txid, code)
    assert again.status_code == 409
    assert again.json()["code"] == "approval_already_decided"


def test_session_code__code_in_store_is_hashed_not_plain(relying, phone):
    txid = start_push(relying)
    fallback(relying, txid, "session_code")
    (delivered,) = session_codes(phone)
    # The encrypted copy (for the device to fetch) and the hash are the only traces.
    assert delivered["code"] not in db_text()


def test_session_code__new_code_invalidates_previous(relying, phone):
    txid = start_push(relying)
    fallback(relying, txid, "session_code")
    (old,) = session_codes(phone)
    fallback(relying, txid, "session_code")
    (new,) = session_codes(phone)
    if old["code"] == new["code"]:
        pytest.skip("two random codes collided (1 in 10^6)")
    refused = verify(relying, txid, old["code"])
    assert refused.status_code == 400
    assert refused.json()["code"] == "code_invalid"
    assert OneTimeCode.objects.filter(approval_id=txid, invalidated_at__isnull=False).count() == 1
    assert verify(relying, txid, new["code"]).json()["status"] == "approved"


def test_session_code__five_wrong_tries__transaction_denied(relying, phone, subscriber):
    txid = start_push(relying)
    fallback(relying, txid, "session_code")
    (delivered,) = session_codes(phone)
    bad = wrong(delivered["code"])
    for attempts_left in (4, 3, 2, 1):
        response = verify(relying, txid, bad)
        assert response.status_code == 400
        assert response.json()["code"] == "code_invalid"
        assert response.json()["fields"]["attempts_left"] == attempts_left
        assert ApprovalRequest.objects.get(pk=txid).status == "pending"
    fifth = verify(relying, txid, bad)
    assert fifth.status_code == 400
    assert fifth.json()["code"] == "code_attempts_exceeded"
    approval = ApprovalRequest.objects.get(pk=txid)
    assert (approval.status, approval.status_reason) == ("denied", "code_attempts_exceeded")
    assert relying.status(txid).json()["result"] == "deny"
    # Even the right code is useless now.
    late = verify(relying, txid, delivered["code"])
    assert late.status_code == 409
    assert late.json()["code"] == "approval_already_decided"
    assert streak(subscriber) == 5
    assert audit_kinds(approval_id=txid, kind="fallback.code_refused") == ["fallback.code_refused"] * 5


def test_session_code__expired_code__409_not_counted(relying, phone, subscriber, settings):
    settings.MFA_SESSION_CODE_TTL_SECONDS = 30
    txid = start_push(relying)
    fallback(relying, txid, "session_code")
    (delivered,) = session_codes(phone)
    with time_machine.travel(time.time() + 31, tick=False):
        # The transaction itself still runs (push timeout 60 s), the code is past its life.
        response = verify(relying, txid, delivered["code"])
    assert response.status_code == 409
    assert response.json()["code"] == "code_expired"
    assert streak(subscriber) == 0
    assert ApprovalRequest.objects.get(pk=txid).status == "pending"


def test_session_code__verify_without_code_issued__409(relying, phone):
    txid = start_push(relying)
    before = snapshot()
    response = verify(relying, txid, "123456")
    assert response.status_code == 409
    assert response.json()["code"] == "code_not_issued"
    assert snapshot() == before


def test_session_code__policy_forbids__403_nothing_sent(relying, phone, tenant):
    Policy.objects.create(tenant=tenant, factors=["push", "sms"])
    txid = start_push(relying)
    before = snapshot()
    response = fallback(relying, txid, "session_code")
    assert response.status_code == 403
    assert response.json()["code"] == "factor_not_allowed"
    assert snapshot() == before
    assert session_codes(phone) == []


def test_session_code__other_application_transaction__404(relying, phone, tenant):
    from approvals.services import application_create
    from tests.helpers import SignedClient

    other = application_create(tenant=tenant, name="VPN")
    other_client = SignedClient(relying.client, other.application.integration_key, other.secret_key)
    txid = start_push(relying)
    response = fallback(other_client, txid, "session_code")
    assert response.status_code == 404
    assert response.json()["code"] == "approval_not_found"
    assert OneTimeCode.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"factor": "push"}, {"factor": "carrier-pigeon"}])
def test_session_code__bad_factor__400(relying, phone, body):
    txid = start_push(relying)
    response = relying.request("POST", f"/api/v1/auth/{txid}/fallback", body=body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert OneTimeCode.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_code_start__session_code_directly__no_push(relying, subscriber, phone, push_outbox):
    make_device(subscriber, name="Pocket phone", fcm_token="fcm-token-1")  # any push would reach it
    response = relying.request(
        "POST",
        "/api/v1/auth/code",
        body={"username": "alice", "factor": "session_code", "context": {"ip": "198.51.100.4"}},
    )
    assert response.status_code == 201, response.json()
    txid = response.json()["txid"]
    # No sign-in push: the device that is not connected is only woken to fetch its code.
    wait_until(lambda: push_outbox)
    assert pushed_before_a_later_push(relying, push_outbox) == [{"approval_id": txid, "kind": "session_code"}]
    (delivered,) = session_codes(phone)
    assert delivered["code"] not in response.content.decode()
    approval = ApprovalRequest.objects.get(pk=txid)
    assert (approval.factor, approval.ip) == ("session_code", "198.51.100.4")
    assert verify(relying, txid, delivered["code"]).json()["result"] == "allow"


@pytest.mark.django_db(transaction=True)
async def test_session_code__delivered_over_websocket(relying, phone):
    ws = WebsocketCommunicator(
        asgi_application, "/ws/device", headers=[(b"authorization", f"Device {phone.token}".encode())]
    )
    ok, _ = await ws.connect(timeout=3)
    assert ok
    try:
        txid = await sync_to_async(start_push)(relying)
        assert (await ws.receive_json_from(timeout=3))["type"] == "approval.request"
        response = await sync_to_async(fallback)(relying, txid, "session_code")
        assert response.status_code == 200, response.json()
        message = await ws.receive_json_from(timeout=3)
        assert message["type"] == "session.code"
        assert message["approval_id"] == txid
        assert message["code"] not in response.content.decode()
        verified = await sync_to_async(verify)(relying, txid, message["code"])
        assert verified.json()["status"] == "approved"
    finally:
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
def test_session_code__sleeping_device_gets_codeless_wake_up_push(relying, subscriber, push_outbox):
    sleeper = make_device(subscriber, name="Pocket phone", fcm_token="fcm-token-1")
    txid = start_push(relying)
    wait_until(lambda: push_outbox)
    push_outbox.clear()
    response = fallback(relying, txid, "session_code")
    assert response.status_code == 200, response.json()
    (wake_up,) = wait_until(lambda: list(push_outbox))
    assert wake_up.device_id == sleeper.device_id
    assert wake_up.data == {"approval_id": txid, "kind": "session_code"}
    (delivered,) = session_codes(sleeper)
    assert delivered["code"] not in str(wake_up)


def test_housekeeping__worker_wipes_dead_copies_and_old_steps(relying, phone, passcode_phone):
    from approvals.worker import run_once

    txid = start_push(relying)
    fallback(relying, txid, "session_code")
    live = relying.auth("alice", display_text="another login").json()["txid"]
    assert live != txid
    fallback(relying, live, "session_code")
    relying.request("POST", f"/api/v1/auth/{txid}/cancel")
    assert passcode(relying, passcode_phone.totp().now()).json()["status"] == "approved"
    assert run_once()["fallback_codes_cleaned"] == 1  # the cancelled transaction's code copy
    assert OneTimeCode.objects.get(approval_id=txid).code_encrypted == ""
    assert OneTimeCode.objects.get(approval_id=live).code_encrypted != ""
    with time_machine.travel(time.time() + 121, tick=False):
        cleaned = run_once()["fallback_codes_cleaned"]
    assert cleaned == 2  # the expired live code's copy, and the TOTP step now outside every window
    assert not OneTimeCode.objects.exclude(code_encrypted="").exists()
