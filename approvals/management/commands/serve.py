"""The embedded all-in-one server: Daphne (HTTP + WebSockets) with the worker in a thread.

Good for ``make run`` and small sites. Larger sites run the documented processes separately.
"""

from __future__ import annotations

import threading
from typing import Any

from daphne.cli import CommandLineInterface
from django.core.management.base import BaseCommand, CommandParser

from approvals.worker import run_forever


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets with Daphne and run the worker in the same process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        threading.Thread(target=run_forever, args=(stop,), name="mfa-worker", daemon=True).start()
        try:
            CommandLineInterface().run(
                ["-b", options["host"], "-p", str(options["port"]), "-v", "1", "mfa_server.asgi:application"]
            )
        finally:
            stop.set()
