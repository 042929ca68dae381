"""Delivering session codes over the devices' own authenticated channel.

The code itself goes only to live WebSocket connections of the subscriber's active devices. Devices
that are not connected get a push wake-up that carries the transaction id and ``kind=session_code``
but never the code (it would transit the push provider); they fetch the code with their token from
``GET /api/v1/device/codes``. The code is never in a relying-service response.
"""

from __future__ import annotations

from django.db import transaction

from approvals.models import ApprovalRequest
from approvals.notify import DeviceTarget, push_to_devices
from devices.live import broadcast_to_devices
from mfa_server.background import run_provider_call

EVENT_TYPE = "session.code"


def session_code_deliver(
    *, approval: ApprovalRequest, code: str, expires_at_iso: str, targets: list[DeviceTarget]
) -> None:
    """After commit: the code to every live connection of ``targets`` (the subscriber's active devices,
    ``approvals.notify.active_device_targets``), and a code-less wake-up push to each of them."""
    approval_id = str(approval.pk)
    event = {
        "type": EVENT_TYPE,
        "approval_id": approval_id,
        "code": code,
        "expires_at": expires_at_iso,
        "application": approval.application.name,
    }
    tenant_id = approval.application.tenant_id
    # The wake-up carries {approval_id, kind} only, so a sleeping app fetches the code itself. It goes
    # first: it only goes to the pool, while the live notice may wait on a slow Redis.
    transaction.on_commit(
        lambda: run_provider_call(
            push_to_devices,
            targets,
            data={"approval_id": approval_id, "kind": "session_code"},
            approval_id=approval_id,
            tenant_id=tenant_id,
            reachable_only=True,
        )
    )
    transaction.on_commit(lambda: broadcast_to_devices([pk for pk, _, _ in targets], event))
