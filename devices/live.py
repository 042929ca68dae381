"""The live channel to devices: channel-layer group names and fan-out from sync code."""

from __future__ import annotations

from channels.layers import get_channel_layer

from mfa_server.background import run_coroutine


def device_group_name(device_id: int) -> str:
    """The channel-layer group every live connection of one device joins."""
    return f"device-{device_id}"


def broadcast_to_devices(device_ids: list[int], event: dict[str, str]) -> None:
    """Send ``event`` to every live connection of these devices (call from a background thread)."""
    layer = get_channel_layer()
    if layer is None or not device_ids:
        return

    async def send_all() -> None:
        for device_id in device_ids:
            await layer.group_send(device_group_name(device_id), event)

    run_coroutine(send_all())
