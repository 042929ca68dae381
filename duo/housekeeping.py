"""Worker sweep of the Duo front doors: forget rows that can no longer be used."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from duo.models import PromptSession, UsedClientAssertion, VerifiedPushOffer

GRACE = timedelta(minutes=5)


def duo_housekeeping() -> int:
    """Delete expired prompt sessions and Verified Push offers, and jti records past their assertion's expiry.

    A prompt session's code lives at most ``CODE_TTL_SECONDS`` past the session, and an expired assertion
    is refused on its ``exp`` alone, so nothing deleted here could still be accepted. Returns rows deleted.
    """
    now = timezone.now()
    sessions, _ = PromptSession.objects.filter(expires_at__lt=now - GRACE).delete()
    offers, _ = VerifiedPushOffer.objects.filter(expires_at__lt=now - GRACE).delete()
    assertions, _ = UsedClientAssertion.objects.filter(expires_at__lt=now).delete()
    return sessions + offers + assertions
