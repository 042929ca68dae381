"""Reads for the approver web app."""

from __future__ import annotations

from django.db.models import QuerySet

from approvals.models import ApprovalRequest
from devices.models import Device
from tenants.models import Tenant


def approvals_recent_for_device(*, device: Device, limit: int = 20) -> QuerySet[ApprovalRequest]:
    """The subscriber's most recent requests (any state), newest first: the user's own history."""
    return (
        ApprovalRequest.objects.select_related("application__tenant", "subscriber")
        .filter(subscriber_id=device.subscriber_id)
        .order_by("-created_at")[:limit]
    )


def tenant_for_brand(*, slug: str) -> Tenant | None:
    """The tenant whose brand ``?tenant=<slug>`` asks for, or None (the default brand)."""
    return Tenant.objects.filter(slug=slug).first() if slug else None
