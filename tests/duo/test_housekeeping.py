"""The worker forgets Duo front-door rows that can no longer be used, and nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.worker import run_once
from duo.models import PromptSession, UsedClientAssertion, VerifiedPushOffer

pytestmark = pytest.mark.django_db


def _session(application, *, expires_in: timedelta) -> PromptSession:
    now = timezone.now()
    return PromptSession.objects.create(
        application=application,
        username="alice",
        redirect_uri="https://a.test/cb",
        state="s" * 16,
        browser_hash="h" * 64,
        created_at=now,
        expires_at=now + expires_in,
    )


def test_worker__purges_expired_duo_rows_only(issued_app, subscriber):
    app, now = issued_app.application, timezone.now()
    old = _session(app, expires_in=-timedelta(hours=1))
    live = _session(app, expires_in=timedelta(minutes=5))
    VerifiedPushOffer.objects.create(
        application=app, subscriber=subscriber, number="123", created_at=now, expires_at=now - timedelta(hours=1)
    )
    fresh_offer = VerifiedPushOffer.objects.create(
        application=app, subscriber=subscriber, number="456", created_at=now, expires_at=now + timedelta(seconds=60)
    )
    UsedClientAssertion.objects.create(application=app, jti="old", expires_at=now - timedelta(seconds=1))
    UsedClientAssertion.objects.create(application=app, jti="new", expires_at=now + timedelta(minutes=5))

    assert run_once()["duo_rows_purged"] == 3
    assert list(PromptSession.objects.values_list("pk", flat=True)) == [live.pk]
    assert not PromptSession.objects.filter(pk=old.pk).exists()
    assert list(VerifiedPushOffer.objects.values_list("pk", flat=True)) == [fresh_offer.pk]
    assert list(UsedClientAssertion.objects.values_list("jti", flat=True)) == ["new"]
