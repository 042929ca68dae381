"""The contract between the SMS sender and SMS providers (one seam per provider, anymail-style)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SmsMessage:
    """One text message. ``to`` is E.164; ``body`` holds the code, so it is never logged by us."""

    to: str
    body: str


@dataclass(frozen=True)
class SmsResult:
    """What the provider said: its message id, when it gives one."""

    provider_id: str = ""


class SmsProviderError(Exception):
    """The provider refused or could not be reached. ``reason`` is safe to store (no number, no code)."""

    def __init__(self, reason: str, *, temporary: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason[:200]
        self.temporary = temporary


class SmsBackend(Protocol):
    """Built once from ``MFA_SMS["OPTIONS"]`` (keyword arguments); ``send`` raises ``SmsProviderError``."""

    def __init__(self, **options: Any) -> None: ...

    def send(self, message: SmsMessage) -> SmsResult:
        """Hand one message to the provider."""
        ...
