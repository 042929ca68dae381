"""Waking the requests that wait for a transaction to end (synchronous ``auth``, long-polled status).

A waiting request sleeps on an event instead of polling the database. The transition that ends a
transaction announces it after commit: to this process's waiters directly and, with Redis, to every
process through one PUBLISH, which a listener thread in each waiting process hears. Pub/sub is at
most once (a notice sent while a listener reconnects is lost), so waiters still re-read their row every
``MFA_WAIT_RECHECK_SECONDS``; a lost notice costs that much delay, never the login. Pub/sub channels
span every database of a Redis server: another deployment's notice names a transaction nobody here
waits for, and wakes nobody.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import redis
from django.conf import settings

from mfa_server.redis_clients import request_path_publisher

logger = logging.getLogger(__name__)

CHANNEL = "mfa:approval-ended"
_LISTEN_TICK_SECONDS = 5.0  # how often an idle listener checks its connection
_RECONNECT_DELAY_SECONDS = 1.0

_lock = threading.Lock()
_waiters: dict[str, set[threading.Event]] = {}
_listener_pid: int | None = None  # the process whose listener runs (a forked child starts its own)


@contextmanager
def ended_notice(approval_id: UUID) -> Iterator[threading.Event]:
    """An event that is set when transaction ``approval_id`` may have ended: re-read it, ``clear()``, wait again.

    Enter before reading the row, so that an end committed in between is not missed.
    """
    _start_listener_once()
    key, event = str(approval_id), threading.Event()
    with _lock:
        _waiters.setdefault(key, set()).add(event)
    try:
        yield event
    finally:
        with _lock:
            events = _waiters.get(key, set())
            events.discard(event)
            if not events:
                _waiters.pop(key, None)


def announce_ended(approval_id: UUID) -> None:
    """Wake every request waiting for ``approval_id``, in every process. Call after the end committed."""
    key = str(approval_id)
    _wake(key)
    if not settings.REDIS_URL:
        return
    try:
        request_path_publisher(settings.REDIS_URL).publish(CHANNEL, key)
    except redis.RedisError:
        logger.warning("end of %s not announced to other processes: Redis unreachable", key, exc_info=True)


def _wake(key: str) -> None:
    with _lock:
        events = list(_waiters.get(key, ()))
    for event in events:
        event.set()


def _wake_everyone() -> None:
    with _lock:
        events = [event for waiting in _waiters.values() for event in waiting]
    for event in events:
        event.set()


def _start_listener_once() -> None:
    """With Redis, one listener thread per process, started by its first waiter."""
    global _listener_pid
    if not settings.REDIS_URL or _listener_pid == os.getpid():
        return
    with _lock:
        if _listener_pid == os.getpid():
            return
        _listener_pid = os.getpid()
    threading.Thread(target=_listen, args=(settings.REDIS_URL,), name="mfa-approval-ended", daemon=True).start()


def _listen(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
    while True:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(CHANNEL)
            _wake_everyone()  # anything announced before this subscription took hold was not heard
            while True:
                message = pubsub.get_message(timeout=_LISTEN_TICK_SECONDS)
                if message is not None:
                    _wake(message["data"].decode())
        except redis.RedisError:
            logger.warning("not hearing ended approvals (Redis unreachable); waiters re-read", exc_info=True)
        finally:
            pubsub.close()
        time.sleep(_RECONNECT_DELAY_SECONDS)
