"""Test backend: records every message in ``outbox`` (like ``django.core.mail.outbox``)."""

from __future__ import annotations

from collections.abc import Sequence

from devices.delivery.base import DeliveryResult, PushMessage

outbox: list[PushMessage] = []


class LocmemPushBackend:
    def send(self, messages: Sequence[PushMessage]) -> list[DeliveryResult]:
        outbox.extend(messages)
        return [DeliveryResult(device_id=m.device_id, delivered=True) for m in messages]
