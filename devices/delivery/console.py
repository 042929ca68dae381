"""Development backend: logs that a push would have been sent (the transaction id only)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from devices.delivery.base import DeliveryResult, PushMessage

logger = logging.getLogger("mfa.push")


class ConsolePushBackend:
    def send(self, messages: Sequence[PushMessage]) -> list[DeliveryResult]:
        for message in messages:
            logger.info("push to device %s: %s", message.device_id, message.data)
        return [DeliveryResult(device_id=m.device_id, delivered=True) for m in messages]
