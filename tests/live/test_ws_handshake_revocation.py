"""A device revoked during the WebSocket handshake, between its check and joining its groups.

The revocation's close notice goes to the device's group, which the socket has not joined yet: only the
consumer's second look at the device (after joining) can refuse the socket. Without it the socket would be
accepted and would hear the user's transaction notices over the subscriber's group.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from devices.live import device_group_name, subscriber_group_name
from devices.models import Device
from devices.services import device_revoke
from mfa_server.asgi import application
from tests.conftest import make_device

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")
TIMEOUT = 10  # for what must happen: generous for a slow CI machine (what happened is not waited for)


def communicator(token: str) -> WebsocketCommunicator:
    headers = [ORIGIN, (b"authorization", f"Device {token}".encode())]
    return WebsocketCommunicator(application, "/ws/device", headers=headers)


async def test_device_socket__revoked_between_check_and_joining_groups__closed_4401_and_hears_nothing(
    relying, phone, subscriber, monkeypatch
):
    tablet = await sync_to_async(make_device)(subscriber, name="Alice tablet")  # the user's other device
    device = await Device.objects.aget(pk=phone.device_id)
    device_group, user_group = device_group_name(device.pk), subscriber_group_name(subscriber.pk)
    layer = get_channel_layer()
    original_group_add, original_group_send = layer.group_add, layer.group_send
    close_notice_sent = threading.Event()  # set on the thread that sent it
    joined: list[tuple[str, str]] = []

    def note_sent(group: str, message: dict[str, Any]) -> None:
        if (group, message) == (device_group, {"type": "device.revoked"}):
            close_notice_sent.set()

    async def group_send(group: str, message: dict[str, Any]) -> None:
        await original_group_send(group, message)
        note_sent(group, message)

    if hasattr(layer, "group_send_blocking"):  # Redis: the revoking thread publishes the notice itself
        original_group_send_blocking = layer.group_send_blocking

        def group_send_blocking(group: str, message: dict[str, Any]) -> None:
            original_group_send_blocking(group, message)
            note_sent(group, message)

        monkeypatch.setattr(layer, "group_send_blocking", group_send_blocking)

    async def group_add(group: str, channel: str) -> None:
        if not joined:  # the phone's handshake: its device passed the first check, no group joined yet
            assert await sync_to_async(device_revoke)(device=device, actor="admin:root")
            # The close notice is out, to a group the socket is not in yet, before the socket joins it.
            assert await asyncio.to_thread(close_notice_sent.wait, TIMEOUT)
        joined.append((group, channel))
        await original_group_add(group, channel)

    monkeypatch.setattr(layer, "group_send", group_send)
    monkeypatch.setattr(layer, "group_add", group_add)

    ws = communicator(phone.token)
    try:
        assert await ws.connect(timeout=TIMEOUT) == (False, 4401)
    finally:
        await ws.disconnect()  # what the server does after refusing a handshake (daphne drops any send before)
    phone_channel = joined[0][1]
    assert joined == [(device_group, phone_channel), (user_group, phone_channel)]  # revoked inside the handshake

    tablet_ws = communicator(tablet.token)
    assert (await tablet_ws.connect(timeout=TIMEOUT))[0]
    try:
        created = await sync_to_async(relying.auth)("alice")
        assert created.status_code == 201, created.json()
        notice = {"type": "approval.request", "approval_id": created.json()["txid"]}
        assert await tablet_ws.receive_json_from(timeout=TIMEOUT) == notice  # the notice went to the user's group
    finally:
        await tablet_ws.disconnect()
    # ... and reached nothing of the refused socket: not its connection, not its channel-layer channel.
    assert await ws.receive_nothing(timeout=0.1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(phone_channel), 0.3)
