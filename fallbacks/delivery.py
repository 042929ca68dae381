"""Delivering session codes over the devices' own authenticated channel.

The code itself goes only to live WebSocket connections of the subscriber's active devices. Devices
that are not connected get a push wake-up that carries the transaction id and ``kind=session_code``
but never the code (it would transit the push provider); they fetch the code with their token from
``GET /api/v1/device/codes``. The code is never in a relying-service response.
"""

from __future__ import annotations

from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

from approvals.models import ApprovalRequest
from approvals.notify import device_group_name
from audit.services import audit_record
from devices.delivery import get_push_backends
from devices.delivery.base import PushMessage
from devices.models import Device
from devices.services import device_drop_webpush_subscription, device_invalidate_push_token
from mfa_server.background import run_coroutine, run_in_background

EVENT_TYPE = "session.code"


def session_code_deliver(*, approval: ApprovalRequest, code: str, expires_at_iso: str) -> None:
    """After commit: the code to every live connection, and a code-less wake-up push to every device."""
    rows = list(
        Device.objects.filter(subscriber_id=approval.subscriber_id, status=Device.Status.ACTIVE).values_list(
            "pk", "fcm_token", "webpush_subscription"
        )
    )
    event = {
        "type": EVENT_TYPE,
        "approval_id": str(approval.pk),
        "code": code,
        "expires_at": expires_at_iso,
        "application": approval.application.name,
    }
    tenant_id = approval.application.tenant_id
    transaction.on_commit(lambda: run_in_background(_deliver, rows, event, tenant_id))


def _deliver(rows: list[tuple[int, str, dict[str, Any]]], event: dict[str, str], tenant_id: int) -> None:
    _broadcast([pk for pk, _, _ in rows], event)
    _wake_up(rows, approval_id=event["approval_id"], tenant_id=tenant_id)


def _broadcast(device_ids: list[int], event: dict[str, str]) -> None:
    layer = get_channel_layer()
    if layer is None or not device_ids:
        return

    async def send_all() -> None:
        for device_id in device_ids:
            await layer.group_send(device_group_name(device_id), event)

    run_coroutine(send_all())


def _wake_up(rows: list[tuple[int, str, dict[str, Any]]], *, approval_id: str, tenant_id: int) -> None:
    """Push ``{approval_id, kind: session_code}`` (no code) so a sleeping app fetches the code itself."""
    messages = [
        PushMessage(
            device_id=pk,
            fcm_token=token,
            data={"approval_id": approval_id, "kind": "session_code"},
            webpush_subscription=subscription or {},
        )
        for pk, token, subscription in rows
        if token or subscription
    ]
    if not messages:
        return
    tokens = {pk: token for pk, token, _ in rows}
    endpoints = {pk: (subscription or {}).get("endpoint", "") for pk, _, subscription in rows}
    for backend in get_push_backends():
        for result in backend.send(messages):
            if result.token_invalid and result.channel == "webpush":
                device_drop_webpush_subscription(
                    device_id=result.device_id, endpoint=endpoints[result.device_id], reason=result.error
                )
            elif result.token_invalid:
                device_invalidate_push_token(
                    device_id=result.device_id, fcm_token=tokens[result.device_id], reason=result.error
                )
            elif not result.delivered:
                audit_record(
                    kind="push.failed",
                    tenant_id=tenant_id,
                    device_id=result.device_id,
                    approval_id=approval_id,
                    detail={"backend": type(backend).__name__, "error": result.error, "kind": "session_code"},
                )
