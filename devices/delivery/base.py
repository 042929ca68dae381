"""The contract between the notifier and push providers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PushMessage:
    """A wake-up for one device. ``data`` carries only the transaction id, never login details."""

    device_id: int
    fcm_token: str
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryResult:
    device_id: int
    delivered: bool
    token_invalid: bool = False
    error: str = ""


class PushBackend(Protocol):
    def send(self, messages: Sequence[PushMessage]) -> list[DeliveryResult]:
        """Deliver what this provider can; return one result per message it attempted."""
        ...
