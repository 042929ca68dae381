"""The in-process channel layer, made safe to send to from other threads.

Channels' ``InMemoryChannelLayer`` keeps an ``asyncio.Queue`` per channel. Pushes are sent from the
background pool, whose ``async_to_sync`` runs its own event loop: a ``put`` there completes the
waiting consumer's future from the wrong thread, which does not wake the server's loop, so the
device hears about the request only when something else happens to wake it (or never).
Here a send to a channel that a consumer on another loop is waiting on is handed to that loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from channels.layers import InMemoryChannelLayer


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    """``InMemoryChannelLayer`` whose ``send`` / ``group_send`` may be called from any thread or loop."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._receiver_loops: dict[str, asyncio.AbstractEventLoop] = {}

    async def receive(self, channel: str) -> dict[str, Any]:
        with self._lock:
            self._receiver_loops[channel] = asyncio.get_running_loop()
        try:
            return await super().receive(channel)
        finally:
            with self._lock:
                self._receiver_loops.pop(channel, None)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        running = asyncio.get_running_loop()
        with self._lock:
            target = self._receiver_loops.get(channel)
            if target is None or target is running or target.is_closed():
                # The parent's send never suspends, so the lock is released before anyone else runs.
                return await super().send(channel, message)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(super().send(channel, message), target))
