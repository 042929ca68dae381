"""Records messages in ``outbox`` instead of sending them (tests)."""

from __future__ import annotations

import itertools
from typing import Any

from fallbacks.sms.base import SmsMessage, SmsResult

outbox: list[SmsMessage] = []
_ids = itertools.count(1)


class LocmemSmsBackend:
    def __init__(self, **options: Any) -> None:
        self.options = options

    def send(self, message: SmsMessage) -> SmsResult:
        outbox.append(message)
        return SmsResult(provider_id=f"locmem-{next(_ids)}")
