"""A generic HTTP SMS gateway: configurable URL, authentication and body template.

OPTIONS:
- ``url`` (required), ``method`` (default POST), ``timeout`` (seconds, default 10)
- ``body`` a template object; every string inside it is rendered with ``string.Template`` and the
  placeholders ``$to``, ``$body``, ``$sender`` (e.g. ``{"to": "$to", "text": "$body", "from": "$sender"}``)
- ``body_format``: ``json`` (default) or ``form``
- ``sender``: the value of ``$sender``
- ``headers``: extra headers (e.g. an API key header)
- ``basic_auth``: ``[user, password]``, or ``bearer_token``
- ``id_field``: a top-level key of the JSON answer holding the provider's message id (optional)

Any 2xx answer counts as accepted; others raise ``SmsProviderError`` (5xx and network errors as temporary).
"""

from __future__ import annotations

from string import Template
from typing import Any

import requests
from django.core.exceptions import ImproperlyConfigured

from fallbacks.sms.base import SmsMessage, SmsProviderError, SmsResult


def render_template(template: Any, values: dict[str, str]) -> Any:
    """Substitute placeholders in every string of a JSON-like template; structure is never parsed from text."""
    if isinstance(template, str):
        return Template(template).safe_substitute(values)
    if isinstance(template, dict):
        return {key: render_template(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [render_template(item, values) for item in template]
    return template


class HttpGatewaySmsBackend:
    def __init__(
        self,
        *,
        url: str = "",
        method: str = "POST",
        body: Any = None,
        body_format: str = "json",
        sender: str = "",
        headers: Any = None,
        basic_auth: Any = None,
        bearer_token: str = "",
        id_field: str = "",
        timeout: float = 10.0,
        **options: Any,
    ) -> None:
        if not url:
            raise ImproperlyConfigured("MFA_SMS OPTIONS for the HTTP gateway need a url")
        if body_format not in ("json", "form"):
            raise ImproperlyConfigured("MFA_SMS OPTIONS body_format must be json or form")
        self.url, self.method, self.body_format = url, method.upper(), body_format
        self.template = body if body is not None else {"to": "$to", "body": "$body"}
        self.sender, self.id_field, self.timeout = sender, id_field, float(timeout)
        self.headers = dict(headers or {})
        if bearer_token:
            self.headers["Authorization"] = f"Bearer {bearer_token}"
        self.auth = (str(basic_auth[0]), str(basic_auth[1])) if basic_auth else None
        self.session = requests.Session()

    def send(self, message: SmsMessage) -> SmsResult:
        payload = render_template(self.template, {"to": message.to, "body": message.body, "sender": self.sender})
        kwargs: dict[str, Any] = {"json": payload} if self.body_format == "json" else {"data": payload}
        try:
            response = self.session.request(
                self.method, self.url, headers=self.headers, auth=self.auth, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise SmsProviderError(f"gateway unreachable: {type(exc).__name__}", temporary=True) from None
        if not 200 <= response.status_code < 300:
            raise SmsProviderError(f"gateway answered {response.status_code}", temporary=response.status_code >= 500)
        provider_id = ""
        if self.id_field:
            try:
                provider_id = str(response.json().get(self.id_field, ""))[:100]
            except (ValueError, AttributeError):
                provider_id = ""
        return SmsResult(provider_id=provider_id)
