"""Telling devices and relying services what happened, off the request path.

Everything here is scheduled with ``transaction.on_commit`` so a rolled-back change notifies nobody,
and runs on the background pool so a slow or failing provider never delays a login.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

from approvals.models import ApprovalRequest
from audit.services import audit_record
from devices.delivery import get_push_backends
from devices.delivery.base import PushMessage
from devices.models import Device
from devices.services import device_drop_webpush_subscription, device_invalidate_push_token
from mfa_server.background import run_coroutine, run_in_background, run_provider_call

logger = logging.getLogger(__name__)


def device_group_name(device_id: int) -> str:
    """The channel-layer group every live connection of one device joins."""
    return f"device-{device_id}"


def notify_devices_of_request(*, approval: ApprovalRequest) -> None:
    """After commit: wake every active device of the subscriber (WebSocket and push) with the id only."""
    rows = Device.objects.filter(subscriber_id=approval.subscriber_id, status=Device.Status.ACTIVE).values_list(
        "pk", "fcm_token", "webpush_subscription"
    )
    targets = [(pk, token) for pk, token, _ in rows]
    webpush = {pk: subscription for pk, _, subscription in rows if subscription}
    approval_id = str(approval.pk)
    tenant_id = approval.subscriber.tenant_id
    event = {"type": "approval.request", "approval_id": approval_id}
    transaction.on_commit(lambda: run_in_background(_broadcast, [device_id for device_id, _ in targets], event))
    transaction.on_commit(lambda: run_provider_call(_deliver_request, approval_id, tenant_id, targets, webpush))


def notify_devices_of_decision(*, approval: ApprovalRequest) -> None:
    """After commit: tell the subscriber's live devices that a request left the pending state."""
    device_ids = list(
        Device.objects.filter(subscriber_id=approval.subscriber_id, status=Device.Status.ACTIVE).values_list(
            "pk", flat=True
        )
    )
    event = {"type": "approval.updated", "approval_id": str(approval.pk), "status": approval.status}
    transaction.on_commit(lambda: run_in_background(_broadcast, device_ids, event))


def _broadcast(device_ids: list[int], event: dict[str, str]) -> None:
    layer = get_channel_layer()
    if layer is None or not device_ids:
        return

    async def send_all() -> None:
        for device_id in device_ids:
            await layer.group_send(device_group_name(device_id), event)

    run_coroutine(send_all())


def _deliver_request(
    approval_id: str, tenant_id: int, targets: list[tuple[int, str]], webpush: dict[int, dict[str, Any]] | None = None
) -> None:
    webpush = webpush or {}
    messages = [
        PushMessage(
            device_id=device_id,
            fcm_token=token,
            data={"approval_id": approval_id},
            webpush_subscription=webpush.get(device_id, {}),
        )
        for device_id, token in targets
    ]
    tokens = dict(targets)
    for backend in get_push_backends():
        for result in backend.send(messages):
            if result.token_invalid and result.channel == "webpush":
                endpoint = webpush.get(result.device_id, {}).get("endpoint", "")
                device_drop_webpush_subscription(device_id=result.device_id, endpoint=endpoint, reason=result.error)
            elif result.token_invalid:
                device_invalidate_push_token(device_id=result.device_id, fcm_token=tokens[result.device_id], reason=result.error)
            elif not result.delivered:
                audit_record(
                    kind="push.failed",
                    tenant_id=tenant_id,
                    device_id=result.device_id,
                    approval_id=approval_id,
                    detail={"backend": type(backend).__name__, "error": result.error},
                )
