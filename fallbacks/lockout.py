"""Counting wrong codes: growing back-off between tries, lockout after too many in a row, admin unlock.

The consecutive-failure counter is the subscriber's own ``failed_attempts`` (shared with push
denials), so a guesser cannot reset it by switching factors; any successful login resets it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F

from approvals.exceptions import SubscriberDeniedError
from approvals.models import Application
from audit.services import audit_record
from fallbacks.exceptions import FallbackBackoffError
from fallbacks.models import SubscriberBackoff
from mfa_server import ratelimit
from tenants.models import Subscriber

_APP_SCOPE = "fallback-code"


def attempt_guard(*, application: Application, subscriber: Subscriber, now: datetime) -> None:
    """Refuse a code attempt before looking at the code: locked subscriber, back-off, or app-wide spray.

    Raises ``SubscriberDeniedError`` (locked / disabled), ``FallbackBackoffError`` (wait ``retry_after``
    seconds), ``RateLimitedError`` (too many wrong codes through this application this minute).
    """
    status = Subscriber.objects.filter(pk=subscriber.pk).values_list("status", flat=True).first()
    if status in (Subscriber.Status.LOCKED, Subscriber.Status.DISABLED):
        raise SubscriberDeniedError(reason=status)
    next_at = SubscriberBackoff.objects.filter(subscriber=subscriber).values_list("next_attempt_at", flat=True).first()
    if next_at and next_at > now:
        raise FallbackBackoffError(retry_after=max(int((next_at - now).total_seconds() + 0.999), 1))
    ratelimit.check(
        scope=_APP_SCOPE,
        key=str(application.pk),
        limit=settings.MFA_CODE_FAILURES_PER_MINUTE_PER_APP,
        window_seconds=60,
    )


def backoff_seconds(failures: int) -> float:
    """Delay before the next try after ``failures`` consecutive wrong codes (0 while still free)."""
    over = failures - settings.MFA_CODE_BACKOFF_FREE_FAILURES
    if over <= 0 or settings.MFA_CODE_BACKOFF_BASE_SECONDS <= 0:
        return 0.0
    return float(min(settings.MFA_CODE_BACKOFF_BASE_SECONDS * 2 ** (over - 1), settings.MFA_CODE_BACKOFF_MAX_SECONDS))


def failure_record(*, application: Application, subscriber: Subscriber, now: datetime) -> int:
    """Count one wrong code: back-off grows, and the subscriber is locked at ``MFA_LOCKOUT_THRESHOLD``.

    Returns the consecutive-failure count.
    """
    Subscriber.objects.filter(pk=subscriber.pk).update(failed_attempts=F("failed_attempts") + 1)
    failures = Subscriber.objects.filter(pk=subscriber.pk).values_list("failed_attempts", flat=True).get()
    ratelimit.count_failure(scope=_APP_SCOPE, key=str(application.pk), window_seconds=60)
    delay = backoff_seconds(failures)
    if delay:
        SubscriberBackoff.objects.update_or_create(
            subscriber=subscriber, defaults={"next_attempt_at": now + timedelta(seconds=delay)}
        )
    locked = Subscriber.objects.filter(
        pk=subscriber.pk, status=Subscriber.Status.ACTIVE, failed_attempts__gte=settings.MFA_LOCKOUT_THRESHOLD
    ).update(status=Subscriber.Status.LOCKED)
    if locked:
        audit_record(
            kind="subscriber.locked",
            tenant_id=subscriber.tenant_id,
            actor=f"app:{application.integration_key}",
            subscriber_id=subscriber.pk,
            detail={"failed_attempts": failures, "cause": "wrong_codes"},
        )
    return failures


def success_record(*, subscriber: Subscriber) -> None:
    """A correct code ends the streak of failures and any back-off."""
    Subscriber.objects.filter(pk=subscriber.pk, failed_attempts__gt=0).update(failed_attempts=0)
    SubscriberBackoff.objects.filter(subscriber=subscriber).delete()


def subscriber_unlock(*, subscriber: Subscriber, actor: str) -> bool:
    """Admin unlock: back to active, counter and back-off cleared. False when the subscriber was not locked."""
    unlocked = Subscriber.objects.filter(pk=subscriber.pk, status=Subscriber.Status.LOCKED).update(
        status=Subscriber.Status.ACTIVE, failed_attempts=0
    )
    SubscriberBackoff.objects.filter(subscriber=subscriber).delete()
    if unlocked:
        audit_record(
            kind="subscriber.unlocked", tenant_id=subscriber.tenant_id, actor=actor, subscriber_id=subscriber.pk
        )
    return bool(unlocked)
