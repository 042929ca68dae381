"""FCM delivery through the real firebase-admin client against a local fake FCM HTTP v1 server."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from devices.models import Device
from mfa_server.asgi import application
from tenants.services import subscriber_get_or_create
from tests.conftest import make_device
from tests.helpers import wait_until
from tests.live.conftest import FCM_ACCESS_TOKEN, HOLD_SECONDS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

HANGING_PUSHES = 8
GOOD, GONE, DOWN = "fcm-token-good-1", "fcm-token-unregistered-1", "fcm-token-outage-1"


def test_fcm_push__transaction_created__fake_gets_device_token_and_id_only(fake_fcm, relying, subscriber):
    make_device(subscriber, fcm_token=GOOD)
    created = relying.auth("alice", ip="203.0.113.7", display_text="Webmail login", hostname="mail.acme.test")
    assert created.status_code == 201, created.json()
    txid = created.json()["txid"]

    fake_fcm.recorder.wait_answered(1, path_suffix=":send")
    (message,) = fake_fcm.sent_to(GOOD)
    assert message["data"] == {"approval_id": txid}
    assert "notification" not in message
    assert message["android"]["priority"] == "high"
    raw = [r for r in fake_fcm.recorder.requests if r.path.endswith("/messages:send")][0]
    assert raw.headers["authorization"] == f"Bearer {FCM_ACCESS_TOKEN}"
    rest_of_body = raw.body.replace(txid.encode(), b"")  # the id's hex digits may spell the number by chance
    for secret in ("203.0.113.7", "Webmail login", "mail.acme.test", "alice", created.json()["number"]):
        assert secret.encode() not in rest_of_body
    assert not AuditEvent.objects.filter(kind="push.failed").exists()


def test_fcm_push__unregistered__token_dropped_audited_and_not_retried(fake_fcm, relying, subscriber):
    fake_fcm.answers[GONE] = (404, "NOT_FOUND", "UNREGISTERED", 0)
    stale = make_device(subscriber, "old phone", fcm_token=GONE)
    make_device(subscriber, "new phone", fcm_token=GOOD)
    txid = relying.auth("alice", display_text="first").json()["txid"]

    fake_fcm.recorder.wait_answered(2, path_suffix=":send")
    wait_until(lambda: AuditEvent.objects.filter(kind="device.push_token_dropped").exists(), timeout=10)
    assert Device.objects.get(pk=stale.device_id).fcm_token == ""
    (dropped,) = AuditEvent.objects.filter(kind="device.push_token_dropped")
    assert (dropped.device_id, dropped.detail) == (stale.device_id, {"reason": "NOT_FOUND"})
    assert not AuditEvent.objects.filter(kind="push.failed").exists()
    assert ApprovalRequest.objects.get(pk=txid).status == "pending"

    relying.auth("alice", display_text="second")
    fake_fcm.recorder.wait_answered(3, path_suffix=":send")
    assert len(fake_fcm.sent_to(GOOD)) == 2
    assert len(fake_fcm.sent_to(GONE)) == 1
    assert AuditEvent.objects.filter(kind="device.push_token_dropped").count() == 1


def test_fcm_push__provider_outage__audited_and_login_still_approvable(fake_fcm, relying, phone, subscriber):
    # Slow, then down (502 is not retried): the answer is held until auth has returned, so an auth that
    # waited for it would take the whole FCM client timeout (10 s).
    fake_fcm.answers[DOWN] = (502, "UNAVAILABLE", "UNAVAILABLE", HOLD_SECONDS)
    Device.objects.filter(pk=phone.device_id).update(fcm_token=DOWN)

    started = time.monotonic()
    created = relying.auth("alice", display_text="outage")
    elapsed = time.monotonic() - started
    fake_fcm.release()
    assert created.status_code == 201, created.json()
    assert elapsed < 5.0, f"auth waited {elapsed:.2f}s for the push provider"
    txid, number = created.json()["txid"], created.json()["number"]

    fake_fcm.recorder.wait_answered(1, timeout=10, path_suffix=":send")
    wait_until(lambda: AuditEvent.objects.filter(kind="push.failed", approval_id=txid).exists(), timeout=10)
    (failed,) = AuditEvent.objects.filter(kind="push.failed", approval_id=txid)
    assert failed.device_id == phone.device_id
    assert failed.detail == {"backend": "FcmPushBackend", "error": "UNAVAILABLE"}
    assert Device.objects.get(pk=phone.device_id).fcm_token == DOWN  # an outage is not the token's fault

    assert phone.decide(txid, "approve", number).status_code == 200
    assert relying.status(txid).json()["result"] == "allow"


def test_fcm_push__device_updates_token__next_push_goes_to_new_token(fake_fcm, relying, phone):
    response = phone.client.put(
        "/api/v1/device/push-token", {"fcm_token": GOOD}, content_type="application/json", **phone.headers
    )
    assert response.status_code == 200, response.json()
    assert Device.objects.get(pk=phone.device_id).fcm_token == GOOD
    assert AuditEvent.objects.filter(kind="device.push_token_updated", device_id=phone.device_id).count() == 1

    txid = relying.auth("alice").json()["txid"]
    fake_fcm.recorder.wait_answered(1, path_suffix=":send")
    (message,) = fake_fcm.sent_to(GOOD)
    assert message["data"] == {"approval_id": txid}


@pytest.mark.django_db  # nothing runs in the background here: a rolled-back test is enough
def test_fcm_push__token_update_bad_input__refused_and_nothing_changes(fake_fcm, phone):
    Device.objects.filter(pk=phone.device_id).update(fcm_token=GOOD)
    for body in ({}, {"fcm_token": None}, {"fcm_token": "x" * 5000}):
        response = phone.client.put("/api/v1/device/push-token", body, content_type="application/json", **phone.headers)
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "invalid_input"
    unauthenticated = phone.client.put(
        "/api/v1/device/push-token", {"fcm_token": "evil"}, content_type="application/json"
    )
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["code"] == "not_authenticated"
    assert Device.objects.get(pk=phone.device_id).fcm_token == GOOD
    assert not AuditEvent.objects.filter(kind="device.push_token_updated").exists()


@pytest.mark.django_db  # nothing runs in the background here: a rolled-back test is enough
def test_fcm_backend__rebuilt_after_settings_change__no_firebase_app_name_clash(settings):
    """A settings change rebuilds the backend; a new one may live at a freed one's address (``id()``)."""
    from devices.delivery.fcm import FcmPushBackend
    from tests.live.conftest import service_account_json

    settings.MFA_FCM_CREDENTIALS_JSON = service_account_json("http://127.0.0.1:9/token")
    for _ in range(5):
        backend = FcmPushBackend()
        assert backend._get_app() is not None  # initialize_app raised ValueError on a reused name
        del backend


@pytest.mark.asyncio
async def test_fcm_push__provider_hangs__websocket_notice_to_other_user_not_held_up(
    fake_fcm, relying, phone, tenant, settings
):
    """An FCM outage that makes every send hang must not delay WebSocket notices (or anything else)."""
    settings.MFA_POLICY_PUSH_LIMIT = 0  # alice asks many times here; push-fatigue limits are not under test
    # Every send to alice's phone hangs until the test releases them (FCM's client gives up after 10 s).
    fake_fcm.answers[DOWN] = (502, "UNAVAILABLE", "UNAVAILABLE", HOLD_SECONDS)
    await Device.objects.filter(pk=phone.device_id).aupdate(fcm_token=DOWN)
    bob = await sync_to_async(subscriber_get_or_create)(tenant=tenant, username="bob")
    bob_phone = await sync_to_async(make_device)(bob, "Bob phone")
    ws = WebsocketCommunicator(
        application, "/ws/device", headers=[(b"authorization", f"Device {bob_phone.token}".encode())]
    )
    assert (await ws.connect(timeout=10))[0]
    try:
        for i in range(HANGING_PUSHES):  # as many hanging sends as the background pool has threads
            assert (await sync_to_async(relying.auth)("alice", display_text=f"alice {i}")).status_code == 201
        created = await sync_to_async(relying.auth)("bob", display_text="bob")
        started = time.monotonic()
        message = await ws.receive_json_from(timeout=8)
        waited = time.monotonic() - started
        assert message == {"type": "approval.request", "approval_id": created.json()["txid"]}
        assert waited < 5.0, f"bob's WebSocket notice waited {waited:.2f}s behind the hanging FCM sends (10 s)"
    finally:
        fake_fcm.release()
        await ws.disconnect()
        await sync_to_async(fake_fcm.recorder.wait_answered)(HANGING_PUSHES, timeout=15, path_suffix=":send")


def test_fcm_push__provider_never_answers__send_times_out_and_is_audited(fake_fcm, relying, phone, settings):
    settings.MFA_FCM_TIMEOUT_SECONDS = 0.5
    fake_fcm.answers[DOWN] = (502, "UNAVAILABLE", "UNAVAILABLE", HOLD_SECONDS)  # answers only after the test
    Device.objects.filter(pk=phone.device_id).update(fcm_token=DOWN)
    txid = relying.auth("alice").json()["txid"]
    started = time.monotonic()
    failed = wait_until(lambda: AuditEvent.objects.filter(kind="push.failed", approval_id=txid).first(), timeout=8)
    waited = time.monotonic() - started
    assert failed.detail == {"backend": "FcmPushBackend", "error": "UNAVAILABLE"}  # how firebase-admin maps a timeout
    assert waited < 4.5, f"the FCM call hung {waited:.2f}s despite a 0.5 s timeout (one retry included)"
