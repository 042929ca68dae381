"""Domain errors of the fallback factors, each with a stable code."""

from __future__ import annotations

from typing import Any

from mfa_server.errors import DomainError, RateLimitedError


class FactorNotAllowedError(DomainError):
    code = "factor_not_allowed"
    http_status = 403
    default_message = "The policy does not allow this factor."


class FactorUnavailableError(DomainError):
    code = "factor_unavailable"
    http_status = 409
    default_message = "This user cannot use this factor (nothing is enrolled for it)."


class CodeInvalidError(DomainError):
    code = "code_invalid"
    default_message = "The code is not correct."


class CodeAttemptsExceededError(DomainError):
    code = "code_attempts_exceeded"
    default_message = "Too many wrong codes; the login was denied."


class CodeExpiredError(DomainError):
    code = "code_expired"
    http_status = 409
    default_message = "The code has expired; request a new one."


class CodeNotIssuedError(DomainError):
    code = "code_not_issued"
    http_status = 409
    default_message = "No code is active for this transaction; request one first."


class FallbackBackoffError(RateLimitedError):
    code = "code_backoff"
    default_message = "Too many wrong codes; wait before trying again."


class PhoneNumberInvalidError(DomainError):
    code = "phone_number_invalid"
    default_message = "The phone number is not a valid number in E.164 form."


class SmsRefusedError(DomainError):
    """Base of every SMS limit refusal; ``code`` says which limit."""

    code = "sms_refused"
    http_status = 429
    default_message = "The SMS was not sent."


class SmsCooldownError(SmsRefusedError):
    code = "sms_cooldown"
    default_message = "An SMS was sent moments ago; wait before asking for another."

    def __init__(self, message: str | None = None, *, retry_after: int, **extra: Any) -> None:
        super().__init__(message, retry_after=retry_after, **extra)
        self.retry_after = retry_after


class SmsSubscriberCapError(SmsRefusedError):
    code = "sms_subscriber_cap"
    default_message = "This user has received the maximum number of SMS codes for this hour."


class SmsDestinationCapError(SmsRefusedError):
    code = "sms_destination_cap"
    default_message = "This phone number has received the maximum number of SMS codes for this hour."


class SmsTenantCapError(SmsRefusedError):
    code = "sms_tenant_cap"
    default_message = "This organisation has sent the maximum number of SMS codes for this hour."


class SmsCountryNotAllowedError(SmsRefusedError):
    code = "sms_country_not_allowed"
    http_status = 403
    default_message = "SMS to this country is not allowed."


class SmsDeliveryError(DomainError):
    code = "sms_delivery_failed"
    http_status = 502
    default_message = "The SMS provider did not accept the message; try another factor."


class PasscodeSecretAlreadyProvisionedError(DomainError):
    code = "passcode_secret_already_provisioned"
    http_status = 409
    default_message = "This device already received its passcode secret; an admin can reset it."
