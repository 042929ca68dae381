"""A small thread pool for side effects that must never block a request (push, webhooks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.db import close_old_connections

logger = logging.getLogger(__name__)
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mfa-bg")


def run_in_background(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
    """Run ``fn`` on the shared pool; errors are logged, database connections are tidied afterwards."""

    def task() -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            logger.exception("background task %s failed", getattr(fn, "__name__", fn))
            return None
        finally:
            close_old_connections()

    return _executor.submit(task)
