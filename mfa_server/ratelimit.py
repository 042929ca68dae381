"""Fixed-window failure counters in the shared cache (Redis in production) for everything guessable."""

from __future__ import annotations

import time

from django.core.cache import cache

from mfa_server.errors import RateLimitedError


def _key(scope: str, key: str, window_seconds: int) -> str:
    return f"rl:{scope}:{key}:{int(time.time()) // window_seconds}"


def check(*, scope: str, key: str, limit: int, window_seconds: int) -> None:
    """Raise ``RateLimitedError`` when ``limit`` failures were already counted in the current window."""
    if (cache.get(_key(scope, key, window_seconds)) or 0) >= limit:
        retry_after = window_seconds - int(time.time()) % window_seconds
        raise RateLimitedError(retry_after=max(retry_after, 1))


def count_failure(*, scope: str, key: str, window_seconds: int) -> None:
    """Count one failed attempt in the current window."""
    cache_key = _key(scope, key, window_seconds)
    if not cache.add(cache_key, 1, timeout=window_seconds + 1):
        try:
            cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=window_seconds + 1)
