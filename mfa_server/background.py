"""A small thread pool for side effects that must never block a request (push, webhooks), and one event loop.

The event loop lives on its own thread for the whole process, so async clients (the in-process channel
layer's sends) keep their state: ``async_to_sync`` from a plain thread would start a thread and a loop for
every call. On Redis, live notices do not come here (``devices/live.py`` publishes them itself).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.db import connections

logger = logging.getLogger(__name__)
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mfa-bg")
# Calls to outside push providers (FCM, Web Push) get their own pool: when a provider hangs, its calls
# wait out their timeouts there instead of holding up WebSocket notices and webhooks.
_provider_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mfa-push")
_loop_lock = threading.Lock()
_loop: tuple[int, asyncio.AbstractEventLoop] | None = None


def run_in_background(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
    """Run ``fn`` on the shared pool; errors are logged, database connections are closed afterwards."""
    return _executor.submit(_task, fn, args, kwargs)


def run_provider_call(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
    """Like ``run_in_background``, on the pool reserved for calls to outside push providers."""
    return _provider_executor.submit(_task, fn, args, kwargs)


def _task(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception:
        logger.exception("background task %s failed", getattr(fn, "__name__", fn))
        return None
    finally:
        # Pool threads live for the whole process: give their connections back after each task so no
        # idle session lingers (and a test database can be dropped at the end of a run).
        connections.close_all()


def _background_loop() -> asyncio.AbstractEventLoop:
    """The process's background event loop, started on first use (after any fork of server workers)."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop[0] != os.getpid() or _loop[1].is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="mfa-bg-loop", daemon=True).start()
            _loop = (os.getpid(), loop)
        return _loop[1]


def start_coroutine(coro: Coroutine[Any, Any, Any]) -> Future[Any]:
    """Schedule ``coro`` on the background event loop without waiting for it (from sync code, e.g. on
    commit: no pool thread in between); its failure is logged."""
    future = asyncio.run_coroutine_threadsafe(coro, _background_loop())
    future.add_done_callback(_log_failure)
    return future


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        logger.error("background coroutine failed", exc_info=error)
