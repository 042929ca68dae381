"""DRF permissions that apply the policy's connection locks (client certificate, networks) to every request.

One mechanism for the three entry points: each reads what the trusted proxy forwarded
(``policies.facts.request_facts``) and calls ``policies.services.policy_enforce_connection``.
A refusal raises ``policy_denied`` (403) with the deciding rule and reason.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from approvals.models import Application
from devices.models import Device
from policies.facts import RequestFacts, request_facts
from policies.selectors import effective_policy, tenant_policy
from policies.services import policy_enforce_connection


class RelyingConnectionPermission(BasePermission):
    """Relying API: ``request.user`` is the authenticated ``Application`` (service-to-service mTLS)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        application = request.user
        if not isinstance(application, Application):
            return True  # an unauthenticated endpoint (e.g. Duo ping): its authentication decides
        policy_enforce_connection(
            policy=effective_policy(application=application),
            tenant_id=application.tenant_id,
            facts=request_facts(request),  # type: ignore[arg-type]
            actor=f"app:{application.integration_key}",
            end_user=False,
            application_id=application.pk,
        )
        return True


class DeviceConnectionPermission(BasePermission):
    """Device API: ``request.user`` is the authenticated ``Device``; the tenant's default policy applies."""

    def has_permission(self, request: Request, view: Any) -> bool:
        device = request.user
        if not isinstance(device, Device):
            return True  # no device session: the view's authentication decides
        enforce_device_connection(device=device, facts=request_facts(request, device_id=device.pk))  # type: ignore[arg-type]
        return True


def enforce_device_connection(*, device: Device, facts: RequestFacts) -> None:
    """A device's connection (HTTP API, approver API or ``/ws/device``): the tenant default policy's
    client certificate, bound to the subscriber / device when the policy says so. Raises ``PolicyDeniedError``.
    """
    subscriber = device.subscriber
    policy_enforce_connection(
        policy=tenant_policy(tenant=subscriber.tenant_id),
        tenant_id=subscriber.tenant_id,
        facts=facts,
        actor=f"device:{device.pk}",
        end_user=True,
        username=subscriber.username,
    )


def enforce_web_client(request: Any, *, tenant_id: int, username: str | None) -> None:
    """For the hosted web client's views (plain Django or DRF): the browser's certificate and network.

    Raises ``PolicyDeniedError``.
    """
    policy_enforce_connection(
        policy=tenant_policy(tenant=tenant_id),
        tenant_id=tenant_id,
        facts=request_facts(request),
        actor="web",
        end_user=True,
        username=username,
        check_user_network=True,
    )
