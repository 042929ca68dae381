"""How many requests of one WSGI process may work at once, whatever its thread count.

A synchronous ``auth`` or a long-polled status holds its thread while the user decides, so the HTTP
server needs many threads; but on two cores, more than a few threads running Python at once only
contend for the GIL and the database. So a request takes a slot while it works and gives it back while
it sleeps on a decision (``lent_while_waiting``); the threads beyond the slots queue for one, first
come first served (a plain semaphore lets newcomers barge, and doubled the p99 of ``auth``). Measured
at concurrency 32 (``bench/approvals.py``): 32 threads per worker each on its own connection did -16 %
round trips/s with twice the p99 of 4 threads; with 4 slots and the connection pool the p99 is back,
at -11 %. One slot in each of three processes beat four in each of two (+6 %, every pair of an A/B):
a process's working request then never waits for its own GIL, and another process runs while it
waits on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FairSlots:
    """A counting semaphore that hands a freed slot to the longest-waiting thread (no barging)."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._lock = threading.Lock()
        self._queue: deque[threading.Lock] = deque()

    def acquire(self) -> None:
        with self._lock:
            if self._free and not self._queue:
                self._free -= 1
                return
            handover = threading.Lock()
            handover.acquire()
            self._queue.append(handover)
        handover.acquire()  # released by release(): the slot is now this thread's

    def release(self) -> None:
        with self._lock:
            if self._queue:
                self._queue.popleft().release()
            else:
                self._free += 1


_slots: FairSlots | None = None
_thread = threading.local()  # .holds: this thread's request has a slot


def limit_working_requests(app: WsgiApp, slots: int) -> WsgiApp:
    """``app`` behind ``slots`` working slots for this process (one limit per process: call it once)."""
    global _slots
    _slots = FairSlots(slots)

    def limited(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with _held(_slots):
            return app(environ, start_response)

    return limited


@contextmanager
def lent_while_waiting() -> Iterator[None]:
    """Around a wait that does no work: this request's working slot and its pooled database connection
    serve other requests meanwhile (the next query borrows a connection again)."""
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()  # pooled: back to the pool
    if _slots is None or not getattr(_thread, "holds", False):
        yield
        return
    _slots.release()
    _thread.holds = False
    try:
        yield
    finally:
        _slots.acquire()
        _thread.holds = True


@contextmanager
def _held(slots: FairSlots) -> Iterator[None]:
    slots.acquire()
    _thread.holds = True
    try:
        yield
    finally:
        _thread.holds = False
        slots.release()
