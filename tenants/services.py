"""Writes on tenants and subscribers."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from audit.services import audit_record
from mfa_server.errors import InvalidInputError
from tenants.models import Subscriber, Tenant


class TenantExistsError(InvalidInputError):
    code = "tenant_exists"
    default_message = "A tenant with this slug already exists."


def tenant_create(*, name: str, slug: str | None = None) -> Tenant:
    """Create a tenant; raises ``TenantExistsError`` when the slug is taken."""
    slug = slugify(slug or name)
    if not slug:
        raise InvalidInputError("The tenant needs a name or slug made of letters or digits.")
    try:
        with transaction.atomic():
            return Tenant.objects.create(name=name, slug=slug)
    except IntegrityError as exc:
        raise TenantExistsError() from exc


def subscriber_get_or_create(*, tenant: Tenant, username: str) -> Subscriber:
    """The subscriber with this username in the tenant, created active when new."""
    subscriber, _ = Subscriber.objects.get_or_create(tenant=tenant, username=username)
    return subscriber


def subscriber_lock(
    *, subscriber: Subscriber, actor: str = "", detail: dict[str, Any] | None = None, **only_if: Any
) -> bool:
    """Lock an active subscriber and audit it, once: False when it was not active (or ``only_if``, extra
    conditions on the row such as ``failed_attempts__gte``, did not hold). One conditional UPDATE."""
    locked = Subscriber.objects.filter(pk=subscriber.pk, status=Subscriber.Status.ACTIVE, **only_if).update(
        status=Subscriber.Status.LOCKED
    )
    if locked:
        audit_record(
            kind="subscriber.locked",
            tenant_id=subscriber.tenant_id,
            actor=actor,
            subscriber_id=subscriber.pk,
            detail=detail,
        )
    return bool(locked)
