"""Telling devices and relying services what happened, off the request path.

Everything here is scheduled with ``transaction.on_commit`` so a rolled-back change notifies nobody,
and runs on the background pool so a slow or failing provider never delays a login.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from approvals.models import ApprovalRequest
from audit.services import audit_record
from devices.delivery import get_push_backends
from devices.delivery.base import PushMessage
from devices.live import broadcast_to_subscriber
from devices.models import Device
from devices.services import device_drop_webpush_subscription, device_invalidate_push_token
from mfa_server.background import run_provider_call

logger = logging.getLogger(__name__)


DeviceTarget = tuple[int, str, dict[str, Any]]  # (device id, FCM token, Web Push subscription)


def active_device_targets(*, subscriber_id: int) -> list[DeviceTarget]:
    """Where each active device of the subscriber can be reached."""
    return list(
        Device.objects.filter(subscriber_id=subscriber_id, status=Device.Status.ACTIVE).values_list(
            "pk", "fcm_token", "webpush_subscription"
        )
    )


def notify_devices_of_request(*, approval: ApprovalRequest, targets: list[DeviceTarget] | None = None) -> None:
    """After commit: wake the subscriber's devices (live connections and push) with the id only.

    ``targets`` are the active devices when the caller already loaded them (None: looked up here).
    """
    if targets is None:
        targets = active_device_targets(subscriber_id=approval.subscriber_id)
    approval_id, subscriber_id = str(approval.pk), approval.subscriber_id
    tenant_id = approval.subscriber.tenant_id
    event = {"type": "approval.request", "approval_id": approval_id}
    # The push first: it only goes to the pool, while the live notice may wait on a slow Redis.
    transaction.on_commit(
        lambda: run_provider_call(
            push_to_devices, targets, data={"approval_id": approval_id}, approval_id=approval_id, tenant_id=tenant_id
        )
    )
    transaction.on_commit(lambda: broadcast_to_subscriber(subscriber_id, event))


def notify_devices_of_decision(*, approval: ApprovalRequest) -> None:
    """After commit: tell the subscriber's live devices that a request left the pending state."""
    subscriber_id = approval.subscriber_id
    event = {"type": "approval.updated", "approval_id": str(approval.pk), "status": approval.status}
    transaction.on_commit(lambda: broadcast_to_subscriber(subscriber_id, event))


def push_to_devices(
    targets: list[DeviceTarget],
    *,
    data: dict[str, str],
    approval_id: str,
    tenant_id: int,
    reachable_only: bool = False,
) -> None:
    """Push ``data`` through every configured backend (provider pool); drop dead tokens, audit failures.

    ``reachable_only`` leaves out devices with neither an FCM token nor a Web Push subscription.
    """
    messages = [
        PushMessage(device_id=pk, fcm_token=token, data=data, webpush_subscription=subscription or {})
        for pk, token, subscription in targets
        if not reachable_only or token or subscription
    ]
    if not messages:
        return
    tokens = {pk: token for pk, token, _ in targets}
    endpoints = {pk: (subscription or {}).get("endpoint", "") for pk, _, subscription in targets}
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
                detail = {"backend": type(backend).__name__, "error": result.error}
                if "kind" in data:
                    detail["kind"] = data["kind"]
                audit_record(
                    kind="push.failed",
                    tenant_id=tenant_id,
                    device_id=result.device_id,
                    approval_id=approval_id,
                    detail=detail,
                )
