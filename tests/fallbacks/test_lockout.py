"""Wrong codes: growing back-off, lockout after MFA_LOCKOUT_THRESHOLD in a row, admin unlock."""

from __future__ import annotations

import time

import pytest
import time_machine

from fallbacks.lockout import backoff_seconds
from fallbacks.models import SubscriberBackoff, UsedTotpStep
from tenants.models import Subscriber
from tests.fallbacks.helpers import passcode, snapshot, start_push, streak
from tests.helpers import audit_kinds

pytestmark = pytest.mark.django_db


def wrong_passcode(device) -> str:
    now = time.time()
    near = {device.totp().at(now + k * 30) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def test_lockout__ten_consecutive_failures__locked_and_audited(relying, passcode_phone, subscriber):
    bad = wrong_passcode(passcode_phone)
    for expected in range(1, 10):
        response = passcode(relying, bad)
        assert response.json()["status"] == "denied", response.json()
        subscriber.refresh_from_db()
        assert (streak(subscriber), subscriber.status) == (expected, "active")
    assert audit_kinds(kind="subscriber.locked") == []
    tenth = passcode(relying, bad)
    assert tenth.json()["status"] == "denied"
    subscriber.refresh_from_db()
    assert (streak(subscriber), subscriber.status) == (10, "locked")
    assert subscriber.failed_attempts == 0  # wrong codes are not fraud strikes
    assert audit_kinds(kind="subscriber.locked") == ["subscriber.locked"]

    before = snapshot()
    right = passcode(relying, passcode_phone.totp().now())
    assert right.status_code == 403
    assert right.json()["code"] == "subscriber_denied"
    assert snapshot() == before
    assert UsedTotpStep.objects.count() == 0
    preauth = relying.request("POST", "/api/v1/preauth", body={"username": "alice"})
    assert preauth.json()["result"] == "deny"


def test_lockout__success_resets_the_streak(relying, passcode_phone, subscriber):
    bad = wrong_passcode(passcode_phone)
    for _ in range(9):
        passcode(relying, bad)
    assert passcode(relying, passcode_phone.totp().now()).json()["status"] == "approved"
    subscriber.refresh_from_db()
    assert streak(subscriber) == 0
    passcode(relying, bad)
    subscriber.refresh_from_db()
    assert (streak(subscriber), subscriber.status) == (1, "active")


def test_lockout__threshold_is_a_setting(relying, passcode_phone, subscriber, settings):
    settings.MFA_LOCKOUT_THRESHOLD = 3
    bad = wrong_passcode(passcode_phone)
    for _ in range(3):
        passcode(relying, bad)
    subscriber.refresh_from_db()
    assert subscriber.status == "locked"


def test_backoff__doubles_after_free_failures(settings):
    settings.MFA_CODE_BACKOFF_FREE_FAILURES = 3
    settings.MFA_CODE_BACKOFF_BASE_SECONDS = 2
    settings.MFA_CODE_BACKOFF_MAX_SECONDS = 10
    assert [backoff_seconds(n) for n in range(1, 8)] == [0, 0, 0, 2, 4, 8, 10]


def test_backoff__too_early__429_not_counted__then_allowed(relying, passcode_phone, subscriber, settings):
    settings.MFA_CODE_BACKOFF_FREE_FAILURES = 1
    settings.MFA_CODE_BACKOFF_BASE_SECONDS = 5
    bad = wrong_passcode(passcode_phone)
    start = time.time()
    with time_machine.travel(start, tick=False):
        assert passcode(relying, bad).json()["status"] == "denied"  # free
        assert passcode(relying, bad).json()["status"] == "denied"  # starts a 5 s back-off
        before = snapshot()
        response = passcode(relying, passcode_phone.totp().now())
        assert response.status_code == 429
        assert response.json()["code"] == "code_backoff"
        assert response["Retry-After"] == "5"
        assert snapshot() == before
    with time_machine.travel(start + 5.5, tick=False):
        assert passcode(relying, passcode_phone.totp().now()).json()["status"] == "approved"
    assert streak(subscriber) == 0
    assert not SubscriberBackoff.objects.exists()


def test_unlock__admin_action__active_again_and_audited(relying, passcode_phone, subscriber, admin_client):
    Subscriber.objects.filter(pk=subscriber.pk).update(status="locked", failed_attempts=10)
    SubscriberBackoff.objects.create(subscriber=subscriber, next_attempt_at="2999-01-01T00:00:00Z")
    response = admin_client.post(
        "/admin/fallbacks/subscriberaccess/", {"action": "unlock", "_selected_action": [subscriber.pk]}
    )
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert (subscriber.status, subscriber.failed_attempts) == ("active", 0)
    assert not SubscriberBackoff.objects.exists()
    assert audit_kinds(kind="subscriber.unlocked") == ["subscriber.unlocked"]
    assert passcode(relying, passcode_phone.totp().now()).json()["status"] == "approved"


def test_unlock__not_locked__nothing_audited(subscriber, admin_client):
    response = admin_client.post(
        "/admin/fallbacks/subscriberaccess/", {"action": "unlock", "_selected_action": [subscriber.pk]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["Unlocked 0 subscriber(s)."]
    assert audit_kinds(kind="subscriber.unlocked") == []


def test_lockout__wrong_codes_are_not_fraud_strikes__push_still_works(relying, passcode_phone, subscriber):
    """The policy's fraud lockout (3 strikes by default) reads failed_attempts; typos must not trip it."""
    bad = wrong_passcode(passcode_phone)
    for _ in range(4):
        passcode(relying, bad)
    subscriber.refresh_from_db()
    assert (subscriber.failed_attempts, subscriber.status, streak(subscriber)) == (0, "active", 4)
    start_push(relying)


def test_lockout__approved_push_breaks_the_streak(relying, passcode_phone, subscriber):
    from approvals.models import ApprovalRequest

    bad = wrong_passcode(passcode_phone)
    for _ in range(9):
        passcode(relying, bad)
    txid = start_push(relying)
    number = ApprovalRequest.objects.get(pk=txid).number
    assert passcode_phone.device.decide(txid, "approve", number).status_code == 200
    assert streak(subscriber) == 0
    passcode(relying, bad)
    subscriber.refresh_from_db()
    assert (streak(subscriber), subscriber.status) == (1, "active")


def test_unlock__subscriber_admin_activate__streak_and_backoff_cleared_too(
    relying, passcode_phone, subscriber, admin_client
):
    bad = wrong_passcode(passcode_phone)
    for _ in range(10):
        passcode(relying, bad)
    subscriber.refresh_from_db()
    assert (subscriber.status, streak(subscriber)) == ("locked", 10)

    response = admin_client.post(
        "/admin/tenants/subscriber/", {"action": "activate", "_selected_action": [subscriber.pk]}
    )

    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert (subscriber.status, streak(subscriber)) == ("active", 0)
    assert not SubscriberBackoff.objects.exists()
    assert passcode(relying, bad).json()["status"] == "denied"  # one typo after the unlock: not locked again
    subscriber.refresh_from_db()
    assert (subscriber.status, streak(subscriber)) == ("active", 1)
