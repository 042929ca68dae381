"""The live channel to devices: channel-layer group names and fan-out from sync code.

Every live connection joins its device's group and its subscriber's group. Transaction events (ids and
states only) go to the subscriber's group, one send whatever the number of devices and with no device
lookup; anything carrying a secret (session codes) goes to the groups of the devices known to be active.
On Redis each send is one PUBLISH from the calling thread; on the in-process layer, a coroutine on the
background loop.
"""

from __future__ import annotations

import asyncio
import logging

import redis
from channels.layers import get_channel_layer

from mfa_server.background import start_coroutine
from mfa_server.channel_layers import BlockingPublishPubSubChannelLayer

logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 10


def device_group_name(device_id: int) -> str:
    """The channel-layer group every live connection of one device joins."""
    return f"device-{device_id}"


def subscriber_group_name(subscriber_id: int) -> str:
    """The channel-layer group every live connection of a subscriber's devices joins."""
    return f"subscriber-{subscriber_id}"


def broadcast_to_devices(device_ids: list[int], event: dict[str, str]) -> None:
    """Send ``event`` to every live connection of these devices (never waits for the devices)."""
    _send_to_groups([device_group_name(device_id) for device_id in device_ids], event)


def broadcast_to_subscriber(subscriber_id: int, event: dict[str, str]) -> None:
    """Send ``event`` to every live connection of the subscriber's devices (never waits for the devices).
    A revoked device's connections are closed when it is revoked (and a connection checks its device again
    after joining), so they leave the group.
    """
    _send_to_groups([subscriber_group_name(subscriber_id)], event)


def _send_to_groups(groups: list[str], event: dict[str, str]) -> None:
    layer = get_channel_layer()
    if layer is None or not groups:
        return
    if isinstance(layer, BlockingPublishPubSubChannelLayer):
        _publish_now(layer, groups, event)
        return

    async def send_all() -> None:
        for group in groups:  # bounded: a hung channel layer fails (logged) instead of piling up sends
            await asyncio.wait_for(layer.group_send(group, event), SEND_TIMEOUT_SECONDS)

    start_coroutine(send_all())


def _publish_now(layer: BlockingPublishPubSubChannelLayer, groups: list[str], event: dict[str, str]) -> None:
    """One PUBLISH per group from this thread; a failure is logged (the device still gets its push or polls)."""
    for group in groups:
        try:
            layer.group_send_blocking(group, event)
        except redis.RedisError:
            logger.warning("live notice to %s not sent: Redis unreachable", group, exc_info=True)
