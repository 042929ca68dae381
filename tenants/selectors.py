"""Reads on tenants."""

from __future__ import annotations

from mfa_server.errors import NotFoundError
from tenants.models import Tenant


class TenantNotFoundError(NotFoundError):
    code = "tenant_not_found"
    default_message = "No such tenant."


def tenant_get(*, slug: str) -> Tenant:
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist as exc:
        raise TenantNotFoundError() from exc
