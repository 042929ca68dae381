"""SMS toll-fraud guards: number validation, country allow-list, cooldown and hourly caps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from django.conf import settings

from fallbacks.exceptions import (
    PhoneNumberInvalidError,
    SmsCooldownError,
    SmsCountryNotAllowedError,
    SmsDestinationCapError,
    SmsSubscriberCapError,
    SmsTenantCapError,
)
from fallbacks.models import SmsSend
from mfa_server.crypto import hash_token

_REFUSED_TYPES = {
    phonenumbers.PhoneNumberType.PREMIUM_RATE,
    phonenumbers.PhoneNumberType.SHARED_COST,
    phonenumbers.PhoneNumberType.UAN,
}


@dataclass(frozen=True)
class ParsedNumber:
    e164: str
    region: str


def phone_number_parse(number: str) -> ParsedNumber:
    """Validate an international number (``+`` and country code) and return its E.164 form and region.

    Raises ``PhoneNumberInvalidError``.
    """
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        raise PhoneNumberInvalidError() from None
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneNumberInvalidError()
    region = phonenumbers.region_code_for_number(parsed) or ""
    return ParsedNumber(e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), region=region)


def destination_hash(number: ParsedNumber) -> str:
    """How sends to one number are counted without storing the number itself."""
    return hash_token(f"sms-destination\n{number.e164}")


def destination_check(number: ParsedNumber) -> None:
    """Refuse countries off ``MFA_SMS_ALLOWED_COUNTRIES`` and premium / shared-cost numbers (SMS pumping)."""
    allowed = {code.upper() for code in settings.MFA_SMS_ALLOWED_COUNTRIES}
    if number.region.upper() not in allowed:
        raise SmsCountryNotAllowedError(region=number.region)
    if phonenumbers.number_type(phonenumbers.parse(number.e164, None)) in _REFUSED_TYPES:
        raise SmsCountryNotAllowedError(
            "SMS to premium-rate or shared-cost numbers is not allowed.", region=number.region
        )


def limits_check(*, tenant_id: int, subscriber_id: int, destination_hash: str, now: datetime) -> None:
    """Cooldown per subscriber, hourly caps per subscriber, per destination and per tenant.

    Every attempt that passed the limits counts (a failed provider call too), so a failing
    gateway cannot be hammered. Raises the matching ``SmsRefusedError`` subclass.
    """
    cooldown = settings.MFA_SMS_COOLDOWN_SECONDS
    last = (
        SmsSend.objects.filter(subscriber_id=subscriber_id, created_at__gt=now - timedelta(seconds=cooldown))
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is not None:
        wait = cooldown - (now - last).total_seconds()
        raise SmsCooldownError(retry_after=max(int(wait + 0.999), 1))
    hour_ago = now - timedelta(hours=1)
    recent = SmsSend.objects.filter(created_at__gt=hour_ago)
    if recent.filter(subscriber_id=subscriber_id).count() >= settings.MFA_SMS_SUBSCRIBER_HOURLY_CAP:
        raise SmsSubscriberCapError()
    if recent.filter(destination_hash=destination_hash).count() >= settings.MFA_SMS_DESTINATION_HOURLY_CAP:
        raise SmsDestinationCapError()
    if recent.filter(tenant_id=tenant_id).count() >= settings.MFA_SMS_TENANT_HOURLY_CAP:
        raise SmsTenantCapError()
