"""Reads for relying services and devices, including the bounded wait for a decision."""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from approvals.exceptions import ApprovalNotFoundError
from approvals.models import Application, ApprovalRequest
from approvals.services import approval_of_device, approval_request_expire
from approvals.waiting import ended_notice
from devices.models import Device
from fallbacks.selectors import preauth_options
from mfa_server.request_slots import lent_while_waiting
from mfa_server.rows import row_get_owned
from policies.facts import RequestFacts
from policies.services import policy_preauth
from tenants.models import Subscriber

_MIN_WAIT_SECONDS = 0.02  # a deadline just passed: let the clock move past it before re-reading


@dataclass(frozen=True)
class DeviceSummary:
    device_id: int
    name: str
    platform: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class PreauthResult:
    """``result`` is one of auth, allow (bypass), deny (disabled / locked), enroll."""

    result: str
    reason: str
    devices: tuple[DeviceSummary, ...] = ()
    factors: tuple[str, ...] = ()


def preauth(*, application: Application, username: str, facts: RequestFacts | None = None) -> PreauthResult:
    """What the relying service should do with this user before asking for a second factor.

    The policy goes first (networks, client certificate, unknown users); ``facts`` carries what the
    request presented (None: nothing, which fails any network or certificate rule closed).
    """
    settled, evaluation = policy_preauth(application=application, username=username, facts=facts)
    if settled is not None:
        return PreauthResult(result=settled[0], reason=settled[1])
    subscriber = evaluation.subscriber  # the policy's facts loaded the subscriber and their active devices
    if subscriber is None:
        return PreauthResult(result="enroll", reason="unknown_user")
    if subscriber.status == Subscriber.Status.BYPASS:
        return PreauthResult(result="allow", reason="bypass")
    if subscriber.is_blocked:
        return PreauthResult(result="deny", reason=subscriber.status)
    active = list(evaluation.devices)
    if not active:
        return PreauthResult(result="enroll", reason="no_active_device")
    # Factors and capabilities: allowed by the policy (in its order) and held by the subscriber.
    options = preauth_options(application=application, subscriber=subscriber, devices=active)
    devices = tuple(
        DeviceSummary(device_id=d.pk, name=d.name, platform=d.platform, capabilities=options.capabilities[d.pk])
        for d in active
    )
    return PreauthResult(result="auth", reason="second_factor_required", devices=devices, factors=options.factors)


def approval_request_get_for_application(*, application: Application, approval_id: UUID) -> ApprovalRequest:
    """One of this application's transactions, timed out first if its deadline passed."""
    approval = row_get_owned(ApprovalRequest, "application_id", application.pk, pk=approval_id)
    if approval is None:
        raise ApprovalNotFoundError()
    approval.application = application  # already loaded (and authenticated): no join
    return _expire_if_due(approval)


def approval_request_wait(*, approval: ApprovalRequest, max_wait_seconds: float) -> ApprovalRequest:
    """Block until the transaction leaves ``pending`` or ``max_wait_seconds`` pass (long-poll / sync auth).

    Sleeps on the transaction's end notice (``approvals.waiting``), not on the database, and lends its
    working slot and database connection meanwhile: a waiting login costs a thread, and a read of its row
    per notice or per ``MFA_WAIT_RECHECK_SECONDS``. The request is timed out here when its deadline passes
    first.
    """
    deadline = time.monotonic() + max_wait_seconds
    if not approval.is_pending:
        return approval
    with ended_notice(approval.pk) as ended:
        while True:
            approval.refresh_from_db(fields=["status", "status_reason", "decided_at"])
            approval = _expire_if_due(approval)
            remaining = deadline - time.monotonic()
            if not approval.is_pending or remaining <= 0:
                return approval
            until_expiry = (approval.expires_at - timezone.now()).total_seconds()
            with lent_while_waiting():
                ended.wait(min(remaining, settings.MFA_WAIT_RECHECK_SECONDS, max(until_expiry, _MIN_WAIT_SECONDS)))
            ended.clear()


def _expire_if_due(approval: ApprovalRequest) -> ApprovalRequest:
    # A successful expiry updates ``approval`` itself; reload only when someone else decided it first.
    if approval.is_pending and approval.expires_at <= timezone.now() and not approval_request_expire(approval=approval):
        approval.refresh_from_db()
    return approval


def approval_requests_pending_for_device(*, device: Device) -> QuerySet[ApprovalRequest]:
    """The subscriber's unexpired pending requests, newest first."""
    return (
        ApprovalRequest.objects.select_related("application__tenant", "subscriber")
        .filter(
            subscriber_id=device.subscriber_id, status=ApprovalRequest.Status.PENDING, expires_at__gt=timezone.now()
        )
        .order_by("-created_at")
    )


def approval_request_get_for_device(*, device: Device, approval_id: UUID) -> ApprovalRequest:
    """A request of the device's subscriber (any state), timed out first if its deadline passed; other
    subscribers' requests do not exist here (``ApprovalNotFoundError``)."""
    return _expire_if_due(approval_of_device(device=device, approval_id=approval_id))
