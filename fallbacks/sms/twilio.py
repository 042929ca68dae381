"""Twilio Programmable Messaging through the official ``twilio`` client.

OPTIONS: ``account_sid``, ``auth_token``, one of ``from_number`` / ``messaging_service_sid``,
optional ``timeout`` (seconds, default 10) and ``api_base_url`` (default Twilio's own; point it at a
regional endpoint, a proxy or a test double speaking Twilio's REST wire format).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from fallbacks.sms.base import SmsMessage, SmsProviderError, SmsResult


class TwilioSmsBackend:
    def __init__(
        self,
        *,
        account_sid: str = "",
        auth_token: str = "",
        from_number: str = "",
        messaging_service_sid: str = "",
        timeout: float = 10.0,
        api_base_url: str = "",
        **options: Any,
    ) -> None:
        if not account_sid or not auth_token:
            raise ImproperlyConfigured("MFA_SMS OPTIONS for Twilio need account_sid and auth_token")
        if not from_number and not messaging_service_sid:
            raise ImproperlyConfigured("MFA_SMS OPTIONS for Twilio need from_number or messaging_service_sid")
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        # Built lazily (not at import), once per process; the client is thread-safe for requests.
        self._client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=float(timeout)))
        if api_base_url:
            # Domain.base_url is the public attribute every Api call is built from.
            self._client.api.base_url = api_base_url.rstrip("/")
        self._sender: dict[str, str] = (
            {"messaging_service_sid": messaging_service_sid} if messaging_service_sid else {"from_": from_number}
        )

    def send(self, message: SmsMessage) -> SmsResult:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            created = self._client.messages.create(to=message.to, body=message.body, **self._sender)
        except TwilioRestException as exc:
            # Twilio's numeric error code (e.g. 21211 invalid "To") is safe to keep; the message may echo the number.
            raise SmsProviderError(f"twilio {exc.status} {exc.code}", temporary=exc.status >= 500) from None
        except TwilioException as exc:
            raise SmsProviderError(f"twilio {type(exc).__name__}", temporary=True) from None
        except OSError as exc:  # connection refused, timeout
            raise SmsProviderError(f"twilio unreachable: {type(exc).__name__}", temporary=True) from None
        return SmsResult(provider_id=created.sid or "")
