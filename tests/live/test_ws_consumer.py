"""The device WebSocket through the real ASGI application (Channels routing, consumer, channel layer)."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from approvals.models import ApprovalRequest
from devices.models import Device
from devices.services import device_revoke
from mfa_server.asgi import application
from tenants.models import Subscriber
from tests.conftest import make_device
from tests.helpers import PhoneDevice, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")


def communicator(token: str | None) -> WebsocketCommunicator:
    headers = [ORIGIN]
    if token is not None:
        headers.append((b"authorization", f"Device {token}".encode()))
    return WebsocketCommunicator(application, "/ws/device", headers=headers)


async def connected(phone: PhoneDevice) -> WebsocketCommunicator:
    ws = communicator(phone.token)
    ok, _ = await ws.connect(timeout=3)
    assert ok
    return ws


async def test_device_socket__missing_or_unknown_token__closed_4401():
    for token in (None, "", "not-a-real-device-token"):
        ws = communicator(token)
        ok, code = await ws.connect(timeout=3)
        assert (token, ok, code) == (token, False, 4401)


async def test_device_socket__revoked_device__closed_4401(phone):
    device = await Device.objects.aget(pk=phone.device_id)
    await sync_to_async(device_revoke)(device=device, actor="test")
    ws = communicator(phone.token)
    ok, code = await ws.connect(timeout=3)
    assert (ok, code) == (False, 4401)


async def test_device_socket__device_revoked_while_connected__socket_closed_4401(phone):
    ws = await connected(phone)
    try:
        device = await Device.objects.aget(pk=phone.device_id)
        assert await sync_to_async(device_revoke)(device=device, actor="admin:root")
        assert await ws.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}
    finally:
        await ws.disconnect()


async def test_device_socket__transaction_created__device_receives_id_only(relying, phone):
    ws = await connected(phone)
    try:
        assert await ws.receive_nothing(timeout=0.1)
        created = await sync_to_async(relying.auth)("alice", ip="203.0.113.7", display_text="Webmail login")
        assert created.status_code == 201, created.json()
        txid = created.json()["txid"]
        message = await ws.receive_json_from(timeout=3)
        assert message == {"type": "approval.request", "approval_id": txid}
    finally:
        await ws.disconnect()


async def test_device_socket__transaction_decided__device_receives_update(relying, phone):
    ws = await connected(phone)
    try:
        created = (await sync_to_async(relying.auth)("alice")).json()
        assert (await ws.receive_json_from(timeout=3))["approval_id"] == created["txid"]
        decided = await sync_to_async(phone.decide)(created["txid"], "approve", created["number"])
        assert decided.status_code == 200, decided.json()
        message = await ws.receive_json_from(timeout=3)
        assert message == {"type": "approval.updated", "approval_id": created["txid"], "status": "approved"}
    finally:
        await ws.disconnect()


async def test_device_socket__second_device_of_the_user__told_too_other_users_not(relying, phone, subscriber, tenant):
    tablet = await sync_to_async(make_device)(subscriber, name="Alice tablet")
    bob = await sync_to_async(make_device)(await Subscriber.objects.acreate(tenant=tenant, username="bob"), "Bob")
    sockets = [await connected(device) for device in (phone, tablet, bob)]
    try:
        created = (await sync_to_async(relying.auth)("alice")).json()
        decided = await sync_to_async(phone.decide)(created["txid"], "approve", created["number"])
        assert decided.status_code == 200, decided.json()
        for ws in sockets[:2]:
            assert await ws.receive_json_from(timeout=3) == {"type": "approval.request", "approval_id": created["txid"]}
            updated = await ws.receive_json_from(timeout=3)
            assert updated == {"type": "approval.updated", "approval_id": created["txid"], "status": "approved"}
        assert await sockets[2].receive_nothing(timeout=0.3)
    finally:
        for ws in sockets:
            await ws.disconnect()


async def test_device_socket__pending_approvals__announced_on_connect(relying, phone, push_outbox):
    # Distinct bodies: an identical signed request within the same second is a replay of the first.
    first = (await sync_to_async(relying.auth)("alice", display_text="one")).json()["txid"]
    second = (await sync_to_async(relying.auth)("alice", display_text="two")).json()["txid"]
    decided = (await sync_to_async(relying.auth)("alice", display_text="three")).json()["txid"]
    await sync_to_async(wait_until)(lambda: len(push_outbox) == 3)  # the creation pushes are out
    assert (await sync_to_async(phone.decide)(decided, "deny")).status_code == 200
    ws = await connected(phone)
    try:
        received = []
        while not await ws.receive_nothing(timeout=0.3):
            received.append(await ws.receive_json_from())
    finally:
        await ws.disconnect()
    requests = sorted(m["approval_id"] for m in received if m["type"] == "approval.request")
    assert requests == sorted([first, second])
    # The deny's own broadcast may still be in flight when the socket joins; nothing else may arrive.
    late = [m for m in received if m["type"] != "approval.request"]
    assert late in ([], [{"type": "approval.updated", "approval_id": decided, "status": "denied"}])
    assert await ApprovalRequest.objects.filter(status="pending").acount() == 2


async def test_device_socket__ping__pong(phone):
    ws = await connected(phone)
    try:
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from(timeout=3) == {"type": "pong"}
    finally:
        await ws.disconnect()


async def test_device_socket__unknown_or_malformed_frames__error_frame_and_stays_open(phone):
    ws = await connected(phone)
    try:
        frames = [
            {"text_data": json.dumps({"type": "approve", "approval_id": "x"})},
            {"text_data": json.dumps(["ping"])},
            {"text_data": json.dumps("ping")},
            {"text_data": "42"},
            {"text_data": "not json"},
            {"text_data": "{"},
            {"bytes_data": b'{"type": "ping"}'},
        ]
        for frame in frames:
            await ws.send_to(**frame)
            assert await ws.receive_json_from(timeout=3) == {"type": "error", "code": "unsupported_message"}, frame
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from(timeout=3) == {"type": "pong"}
    finally:
        await ws.disconnect()
