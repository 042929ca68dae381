"""Publishing to Redis on a request's path: one publisher per URL and process.

Building a client per call costs more than the call itself, and every caller on a request's path wants
the same bounded waits: an unreachable or hung Redis costs a publish at most ``TIMEOUT_SECONDS`` for its
turn and as long again for Redis, never a hung request.
"""

from __future__ import annotations

import os
import threading

import redis

TIMEOUT_SECONDS = 2
PUBLISHER_CLIENT_NAME = "mfa-publisher"  # how a publisher's connection shows in Redis's CLIENT LIST

_publishers: dict[str, Publisher] = {}


def request_path_publisher(url: str) -> Publisher:
    """The process's publisher for ``url``."""
    if url not in _publishers:
        _publishers[url] = Publisher(url)
    return _publishers[url]


class Publisher:
    """PUBLISH on one connection that the process keeps for it, one message at a time.

    A request publishes up to three notices (to the devices' live connections, and the end of a
    transaction to waiting calls). The client's ``publish`` borrows a pooled connection and records
    metrics around each command, which here costs two thirds as much CPU again as the PUBLISH itself
    (51 against 31 us). A call that fails raises ``redis.RedisError`` and drops the connection (redis-py's
    own handling); the next call connects anew, and a forked child opens its own.
    """

    def __init__(self, url: str) -> None:
        self._pool = redis.ConnectionPool.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            client_name=PUBLISHER_CLIENT_NAME,
        )
        self._lock = threading.Lock()
        self._connection = self._pool.make_connection()  # connects on its first command
        self._pid = os.getpid()

    def publish(self, channel: str, message: bytes | str) -> int:
        """Send ``message`` on ``channel``; how many subscribers received it."""
        if not self._lock.acquire(timeout=TIMEOUT_SECONDS):  # the call before this one still waits on Redis
            raise redis.TimeoutError("the publishing connection stayed busy")
        try:
            if self._pid != os.getpid():  # never write on the parent's socket
                self._connection, self._pid = self._pool.make_connection(), os.getpid()
            self._connection.send_command("PUBLISH", channel, message, check_health=False)
            return int(self._connection.read_response())
        finally:
            self._lock.release()
