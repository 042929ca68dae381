"""Development backend: writes messages to stdout, or appends them to ``file`` (the default for ``make run``).

It prints the code by design, like Django's console email backend; a system check warns when it is
configured with DEBUG off.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from fallbacks.sms.base import SmsMessage, SmsResult

_lock = threading.Lock()


class ConsoleSmsBackend:
    def __init__(self, *, file: str = "", **options: Any) -> None:
        self.file = file

    def send(self, message: SmsMessage) -> SmsResult:
        line = f"SMS to {message.to}: {message.body}\n"
        with _lock:
            if self.file:
                with open(self.file, "a", encoding="utf-8") as handle:
                    handle.write(line)
            else:
                sys.stdout.write(line)
                sys.stdout.flush()
        return SmsResult()
