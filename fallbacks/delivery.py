"""Delivering session codes over the devices' own authenticated channel (the live WebSocket).

Devices that are offline fetch the code with ``GET /api/v1/device/codes``; the code is never put
in a push notification (it would transit the push provider) nor in the relying-service response.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from approvals.models import ApprovalRequest
from approvals.notify import device_group_name
from devices.models import Device
from mfa_server.background import run_in_background

EVENT_TYPE = "session.code"


def session_code_deliver(*, approval: ApprovalRequest, code: str, expires_at_iso: str) -> None:
    """After commit: send the code to every live connection of the subscriber's active devices."""
    device_ids = list(
        Device.objects.filter(subscriber_id=approval.subscriber_id, status=Device.Status.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    event = {
        "type": EVENT_TYPE,
        "approval_id": str(approval.pk),
        "code": code,
        "expires_at": expires_at_iso,
        "application": approval.application.name,
    }
    transaction.on_commit(lambda: run_in_background(_send, device_ids, event))


def _send(device_ids: list[int], event: dict[str, str]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for device_id in device_ids:
        async_to_sync(layer.group_send)(device_group_name(device_id), event)
