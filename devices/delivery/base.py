"""The contract between the notifier and push providers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class PushMessage:
    """A wake-up for one device. ``data`` carries only the transaction id, never login details."""

    device_id: int
    fcm_token: str
    data: dict[str, str] = field(default_factory=dict)
    # The approver web app's Web Push subscription ({"endpoint", "keys": {"p256dh", "auth"}}), if any.
    webpush_subscription: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryResult:
    device_id: int
    delivered: bool
    token_invalid: bool = False
    error: str = ""
    channel: str = "fcm"  # which address ``token_invalid`` refers to: "fcm" token or "webpush" subscription


class PushBackend(Protocol):
    def send(self, messages: Sequence[PushMessage]) -> list[DeliveryResult]:
        """Deliver what this provider can; return one result per message it attempted."""
        ...
