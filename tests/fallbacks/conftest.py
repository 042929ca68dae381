"""Fixtures of the fallback suite: SMS outbox, phone numbers, devices with a provisioned passcode secret."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fallbacks.services import phone_number_set
from fallbacks.sms import locmem
from fallbacks.sms.base import SmsMessage
from tenants.models import Subscriber
from tests.fallbacks.helpers import UK_MOBILE


@pytest.fixture(autouse=True)
def _fallback_settings(settings) -> None:
    settings.MFA_SMS = {"BACKEND": "fallbacks.sms.locmem.LocmemSmsBackend", "OPTIONS": {}}
    settings.MFA_SMS_ALLOWED_COUNTRIES = ["GB", "DE"]
    # Back-off is exercised on its own in test_lockout; elsewhere it would only slow the tries down.
    settings.MFA_CODE_BACKOFF_BASE_SECONDS = 0


@pytest.fixture
def sms_outbox() -> Iterator[list[SmsMessage]]:
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


@pytest.fixture
def alice_phone_number(subscriber: Subscriber) -> str:
    phone_number_set(subscriber=subscriber, number=UK_MOBILE, actor="test")
    return UK_MOBILE
