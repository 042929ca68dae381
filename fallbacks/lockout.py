"""Counting wrong codes: growing back-off between tries, lockout after too many in a row, admin unlock.

The streak lives in ``SubscriberBackoff``, not in ``Subscriber.failed_attempts``: the policy engine
reads that counter as fraud strikes (``fraud_lockout_count``, 3 by default), and three typos are not
three fraud reports. The streak ends with any approved login of the subscriber (whatever the factor)
or an admin unlock; at ``MFA_LOCKOUT_THRESHOLD`` wrong codes in a row the subscriber is locked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from approvals.exceptions import SubscriberDeniedError
from approvals.models import Application, ApprovalRequest
from audit.services import audit_record
from fallbacks.exceptions import FallbackBackoffError
from fallbacks.models import SubscriberBackoff
from mfa_server import ratelimit
from tenants.models import Subscriber
from tenants.services import subscriber_lock

_APP_SCOPE = "fallback-code"
_STREAK_WRITE_ATTEMPTS = 3  # each lost race needs a right code deleting the row: rare, and bounded here


def require_not_blocked(*, subscriber_id: int) -> None:
    """``SubscriberDeniedError`` when the subscriber is locked or disabled now (read fresh: it may have
    changed since the login started)."""
    status = Subscriber.objects.filter(pk=subscriber_id).values_list("status", flat=True).first()
    if status in Subscriber.BLOCKED_STATUSES:
        raise SubscriberDeniedError(reason=status)


def attempt_guard(*, application: Application, subscriber: Subscriber, now: datetime) -> None:
    """Refuse a code attempt before looking at the code: locked subscriber, back-off, or app-wide spray.

    Raises ``SubscriberDeniedError`` (locked / disabled), ``FallbackBackoffError`` (wait ``retry_after``
    seconds), ``RateLimitedError`` (too many wrong codes through this application this minute).
    """
    require_not_blocked(subscriber_id=subscriber.pk)
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
    """Count one wrong code: the back-off grows, and the subscriber is locked at ``MFA_LOCKOUT_THRESHOLD``.

    Returns the length of the streak.
    """
    ratelimit.count_failure(scope=_APP_SCOPE, key=str(application.pk), window_seconds=60)
    attempts_left = _STREAK_WRITE_ATTEMPTS
    while True:
        try:
            streak = _streak_lengthened(subscriber=subscriber, now=now)
            break
        except IntegrityError:
            attempts_left -= 1
            if not attempts_left:
                raise
    if streak.failures >= settings.MFA_LOCKOUT_THRESHOLD:
        subscriber_lock(
            subscriber=subscriber,
            actor=f"app:{application.integration_key}",
            detail={"consecutive_wrong_codes": streak.failures, "cause": "wrong_codes"},
        )
    return streak.failures


def _streak_lengthened(*, subscriber: Subscriber, now: datetime) -> SubscriberBackoff:
    """One more wrong code on the subscriber's streak, under the row's lock, in one transaction.

    Raises ``IntegrityError`` when the read-or-create loses a race: a concurrent wrong code inserted the
    row after this read found none, and a concurrent right code (``streak_clear``) deleted it before this
    read could find it again. Taking the step again then reads or creates the row afresh.
    """
    with transaction.atomic():
        streak, _ = SubscriberBackoff.objects.select_for_update().get_or_create(subscriber=subscriber)
        if streak.last_failure_at and _approved_since(subscriber, streak.last_failure_at):
            streak.failures = 0  # a login succeeded in between (a push, say): the streak was broken
        streak.failures += 1
        streak.last_failure_at = now
        delay = backoff_seconds(streak.failures)
        streak.next_attempt_at = now + timedelta(seconds=delay) if delay else None
        streak.save(update_fields=["failures", "last_failure_at", "next_attempt_at"])
    return streak


def _approved_since(subscriber: Subscriber, moment: datetime) -> bool:
    return ApprovalRequest.objects.filter(
        subscriber=subscriber, status=ApprovalRequest.Status.APPROVED, decided_at__gt=moment
    ).exists()


def streak_clear(*, subscriber: Subscriber) -> None:
    """Forget the streak of wrong codes and its back-off (a right code, an admin unlock or re-activation)."""
    SubscriberBackoff.objects.filter(subscriber=subscriber).delete()


def success_record(*, subscriber: Subscriber) -> None:
    """A right code ends the streak and any back-off, and (like any approval) the fraud-strike count."""
    streak_clear(subscriber=subscriber)
    Subscriber.objects.filter(pk=subscriber.pk, failed_attempts__gt=0).update(failed_attempts=0)


def failures_in_a_row(*, subscriber: Subscriber) -> int:
    """The current streak of wrong codes (0 when broken by an approved login since)."""
    streak = SubscriberBackoff.objects.filter(subscriber=subscriber).first()
    if streak is None or (streak.last_failure_at and _approved_since(subscriber, streak.last_failure_at)):
        return 0
    return streak.failures


def subscriber_unlock(*, subscriber: Subscriber, actor: str) -> bool:
    """Admin unlock: back to active, streak, back-off and strikes cleared. False when it was not locked."""
    unlocked = Subscriber.objects.filter(pk=subscriber.pk, status=Subscriber.Status.LOCKED).update(
        status=Subscriber.Status.ACTIVE, failed_attempts=0
    )
    streak_clear(subscriber=subscriber)
    if unlocked:
        audit_record(
            kind="subscriber.unlocked", tenant_id=subscriber.tenant_id, actor=actor, subscriber_id=subscriber.pk
        )
    return bool(unlocked)
