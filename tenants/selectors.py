"""Reads on tenants."""

from __future__ import annotations

from mfa_server.config_cache import cached
from mfa_server.errors import NotFoundError
from tenants.models import Subscriber, Tenant


class TenantNotFoundError(NotFoundError):
    code = "tenant_not_found"
    default_message = "No such tenant."


def tenant_get(*, slug: str) -> Tenant:
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist as exc:
        raise TenantNotFoundError() from exc


def tenant_cached(tenant_id: int) -> Tenant:
    """A tenant from the configuration cache (shared between requests: read it, never change it)."""
    return cached(("tenant", tenant_id), lambda: Tenant.objects.get(pk=tenant_id))


def subscriber_with_tenant(subscriber: Subscriber) -> Subscriber:
    """``subscriber`` with its tenant attached from the configuration cache (no query while cached)."""
    subscriber.tenant = tenant_cached(subscriber.tenant_id)
    return subscriber
