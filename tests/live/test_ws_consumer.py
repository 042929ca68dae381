"""The device WebSocket through the real ASGI application (Channels routing, consumer, channel layer)."""

from __future__ import annotations

import asyncio
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
# How long to wait for a frame that must come (generous: a slow CI machine; a frame that came is not waited for).
TIMEOUT = 10
PONG = {"type": "pong"}
IDLE_SECONDS = 7  # longer than redis-py's default read timeout (5 s)


def communicator(token: str | None) -> WebsocketCommunicator:
    headers = [ORIGIN]
    if token is not None:
        headers.append((b"authorization", f"Device {token}".encode()))
    return WebsocketCommunicator(application, "/ws/device", headers=headers)


async def connected(phone: PhoneDevice) -> WebsocketCommunicator:
    """An accepted socket whose connect handler has finished and found nothing pending.

    The handler reads what is pending after accepting: a request created before it finished would be
    announced twice (harmless, but not what these tests look for).
    """
    ws = communicator(phone.token)
    ok, _ = await ws.connect(timeout=TIMEOUT)
    assert ok
    assert await until_pong(ws) == []
    return ws


async def until_pong(ws: WebsocketCommunicator) -> list[dict]:
    """Send a ping and return every frame that came before its pong.

    The consumer handles one message at a time, so the pong comes after everything its connect handler
    sent (the pending requests) and after every channel-layer event that reached it before the ping.
    """
    await ws.send_json_to({"type": "ping"})
    received = []
    while (message := await ws.receive_json_from(timeout=TIMEOUT)) != PONG:
        received.append(message)
    return received


async def test_device_socket__missing_or_unknown_token__closed_4401():
    for token in (None, "", "not-a-real-device-token"):
        ws = communicator(token)
        ok, code = await ws.connect(timeout=TIMEOUT)
        assert (token, ok, code) == (token, False, 4401)


async def test_device_socket__revoked_device__closed_4401(phone):
    device = await Device.objects.aget(pk=phone.device_id)
    await sync_to_async(device_revoke)(device=device, actor="test")
    ws = communicator(phone.token)
    ok, code = await ws.connect(timeout=TIMEOUT)
    assert (ok, code) == (False, 4401)


async def test_device_socket__device_revoked_while_connected__socket_closed_4401(phone):
    ws = await connected(phone)
    try:
        device = await Device.objects.aget(pk=phone.device_id)
        assert await sync_to_async(device_revoke)(device=device, actor="admin:root")
        assert await ws.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4401}
    finally:
        await ws.disconnect()


async def test_device_socket__transaction_created__device_receives_id_only(relying, phone):
    ws = await connected(phone)
    try:
        created = await sync_to_async(relying.auth)("alice", ip="203.0.113.7", display_text="Webmail login")
        assert created.status_code == 201, created.json()
        txid = created.json()["txid"]
        message = await ws.receive_json_from(timeout=TIMEOUT)
        assert message == {"type": "approval.request", "approval_id": txid}
    finally:
        await ws.disconnect()


async def test_device_socket__transaction_decided__device_receives_update(relying, phone):
    ws = await connected(phone)
    try:
        created = (await sync_to_async(relying.auth)("alice")).json()
        assert (await ws.receive_json_from(timeout=TIMEOUT))["approval_id"] == created["txid"]
        decided = await sync_to_async(phone.decide)(created["txid"], "approve", created["number"])
        assert decided.status_code == 200, decided.json()
        message = await ws.receive_json_from(timeout=TIMEOUT)
        assert message == {"type": "approval.updated", "approval_id": created["txid"], "status": "approved"}
    finally:
        await ws.disconnect()


async def test_device_socket__second_device_of_the_user__told_too_other_users_not(relying, phone, subscriber, tenant):
    tablet = await sync_to_async(make_device)(subscriber, name="Alice tablet")
    bob = await sync_to_async(make_device)(await Subscriber.objects.acreate(tenant=tenant, username="bob"), "Bob")
    sockets = [await connected(device) for device in (phone, tablet, bob)]
    try:
        created = (await sync_to_async(relying.auth)("alice")).json()
        # The request and the decision are broadcast separately (they may overtake each other on Redis):
        # each of alice's sockets hears of the request before the decision is made.
        request = {"type": "approval.request", "approval_id": created["txid"]}
        for ws in sockets[:2]:
            assert await ws.receive_json_from(timeout=TIMEOUT) == request
        decided = await sync_to_async(phone.decide)(created["txid"], "approve", created["number"])
        assert decided.status_code == 200, decided.json()
        for ws in sockets[:2]:
            updated = await ws.receive_json_from(timeout=TIMEOUT)
            assert updated == {"type": "approval.updated", "approval_id": created["txid"], "status": "approved"}
        # Both events reached alice's sockets; bob's socket answers a ping having been sent neither.
        assert await until_pong(sockets[2]) == []
    finally:
        for ws in sockets:
            await ws.disconnect()


async def test_device_socket__pending_approvals__announced_on_connect(relying, phone, push_outbox):
    observer = await connected(phone)  # there all along: hears every broadcast
    try:
        # Distinct bodies: an identical signed request within the same second is a replay of the first.
        first = (await sync_to_async(relying.auth)("alice", display_text="one")).json()["txid"]
        second = (await sync_to_async(relying.auth)("alice", display_text="two")).json()["txid"]
        decided = (await sync_to_async(relying.auth)("alice", display_text="three")).json()["txid"]
        await sync_to_async(wait_until)(lambda: len(push_outbox) == 3)  # the creation pushes are out
        assert (await sync_to_async(phone.decide)(decided, "deny")).status_code == 200
        # Once the observer heard every broadcast (3 requests, 1 decision), none is in flight any more:
        # a socket joining now may hear only what its connect handler finds pending.
        broadcasts = [
            *({"type": "approval.request", "approval_id": txid} for txid in (first, second, decided)),
            {"type": "approval.updated", "approval_id": decided, "status": "denied"},
        ]
        heard = [await observer.receive_json_from(timeout=TIMEOUT) for _ in broadcasts]
        assert sorted(heard, key=json.dumps) == sorted(broadcasts, key=json.dumps)
        ws = communicator(phone.token)
        assert (await ws.connect(timeout=TIMEOUT))[0]
        try:
            received = await until_pong(ws)  # all that the connect handler sent comes before the pong
        finally:
            await ws.disconnect()
    finally:
        await observer.disconnect()
    assert sorted(received, key=json.dumps) == sorted(broadcasts[:2], key=json.dumps)
    assert await ApprovalRequest.objects.filter(status="pending").acount() == 2


async def test_device_socket__ping__pong(phone):
    ws = await connected(phone)
    try:
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from(timeout=TIMEOUT) == PONG
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
        unsupported = {"type": "error", "code": "unsupported_message"}
        for frame in frames:
            await ws.send_to(**frame)
            assert await ws.receive_json_from(timeout=TIMEOUT) == unsupported, frame
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from(timeout=TIMEOUT) == PONG
    finally:
        await ws.disconnect()


@pytest.mark.redis
async def test_device_socket__idle_past_the_layers_blocking_read__stays_open(phone):
    """An idle socket outlives the Redis client's default read timeout (5 s in redis-py 8, which closed
    every idle socket on channels_redis's list-based layer: channels_redis#422)."""
    ws = await connected(phone)
    try:
        await asyncio.sleep(IDLE_SECONDS)
        assert await until_pong(ws) == []
    finally:
        await ws.disconnect()
