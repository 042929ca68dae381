"""Run the housekeeping worker (timeouts, webhook retries, audit sealing) in the foreground."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from approvals.worker import run_forever


class Command(BaseCommand):
    help = "Run the worker: time out unanswered approvals, retry webhooks, seal the audit chain."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        run_forever(stop)
