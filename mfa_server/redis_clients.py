"""One pooled Redis client per URL and process for calls made on a request's path.

Building a client per call costs more than the call itself, and every caller on a request's path wants
the same bounded waits: an unreachable Redis costs a request at most ``TIMEOUT_SECONDS`` per call, never
a hung request.
"""

from __future__ import annotations

import redis

TIMEOUT_SECONDS = 2

_clients: dict[tuple[str, bool], redis.Redis] = {}


def request_path_redis(url: str, *, decode_responses: bool = False) -> redis.Redis:
    """The process's client for ``url`` (replies as ``str`` with ``decode_responses``, else ``bytes``)."""
    key = (url, decode_responses)
    if key not in _clients:
        _clients[key] = redis.Redis.from_url(
            url,
            decode_responses=decode_responses,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
        )
    return _clients[key]
