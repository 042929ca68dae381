"""Live channel to a device: the server pushes transaction ids; decisions always go over HTTP."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from approvals.selectors import approval_requests_pending_for_device
from devices.api.authentication import token_from_header
from devices.browser_session import session_token_from_headers
from devices.live import device_group_name, subscriber_group_name
from devices.models import Device
from devices.selectors import device_for_token
from mfa_server.errors import DomainError
from policies.exceptions import PolicyDeniedError
from policies.facts import RequestFacts, scope_facts
from policies.permissions import enforce_device_connection

CLOSE_UNAUTHENTICATED = 4401
CLOSE_POLICY_DENIED = 4403


@database_sync_to_async
def _authenticate(token: str, client_ip: str | None) -> Device | None:
    try:
        return device_for_token(token=token, client_ip=client_ip)
    except DomainError:
        return None


@database_sync_to_async
def _policy_allows(device: Device, facts: RequestFacts) -> bool:
    """The tenant policy's connection locks, as on the device API (refusals are audited ``policy.refused``)."""
    try:
        enforce_device_connection(device=device, facts=facts)
    except PolicyDeniedError:
        return False
    return True


@database_sync_to_async
def _pending_ids(device: Device) -> list[str]:
    return [str(pk) for pk in approval_requests_pending_for_device(device=device).values_list("pk", flat=True)]


class DeviceConsumer(AsyncJsonWebsocketConsumer):
    """Authenticated by ``Authorization: Device <token>``; sends ``approval.request`` / ``approval.updated``.

    Closes with 4401 (no / unknown / revoked device) or 4403 (the tenant policy's connection locks refused).
    """

    group_names: tuple[str, ...] = ()

    async def connect(self) -> None:
        headers = dict(self.scope.get("headers", []))
        # Apps send ``Authorization: Device``; the approver web app's browser sends its session cookie.
        token = token_from_header(headers.get(b"authorization", b"").decode("latin-1")) or session_token_from_headers(
            headers
        )
        # Client address and certificate as the trusted proxy forwarded them (mfa_server.net rules).
        facts = scope_facts(self.scope)
        device = await _authenticate(token, facts.service_ip) if token else None
        if device is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await _policy_allows(device, replace(facts, device_id=device.pk)):
            await self.close(code=CLOSE_POLICY_DENIED)
            return
        self.group_names = (device_group_name(device.pk), subscriber_group_name(device.subscriber_id))
        for group in self.group_names:
            await self.channel_layer.group_add(group, self.channel_name)
        # A revocation between the check above and joining sent its close notice to a group this socket
        # was not in yet: look again now that any later notice will reach it.
        if not await Device.objects.filter(pk=device.pk, status=Device.Status.ACTIVE).aexists():
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.accept()
        # Read what is pending only after joining the groups: a request created in between is then
        # announced twice (harmless) instead of not at all.
        for approval_id in await _pending_ids(device):
            await self.send_json({"type": "approval.request", "approval_id": approval_id})

    async def disconnect(self, code: int) -> None:
        for group in self.group_names:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        """Malformed JSON or a binary frame is answered like any unsupported message, not with a crash."""
        try:
            content = json.loads(text_data) if text_data is not None else None
        except ValueError:
            content = None
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "code": "unsupported_message"})

    async def device_revoked(self, event: dict[str, str]) -> None:
        """The device was removed: its open connections end at once."""
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def approval_request(self, event: dict[str, str]) -> None:
        await self.send_json({"type": "approval.request", "approval_id": event["approval_id"]})

    async def approval_updated(self, event: dict[str, str]) -> None:
        await self.send_json(
            {"type": "approval.updated", "approval_id": event["approval_id"], "status": event["status"]}
        )

    async def session_code(self, event: dict[str, str]) -> None:
        """A session code (fallbacks app) for the user to type on the login page."""
        await self.send_json({k: event[k] for k in ("type", "approval_id", "code", "expires_at", "application")})
