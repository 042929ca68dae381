"""A process-local cache of the configuration every request reads (applications, policies, tenants).

Every save or delete of a watched model publishes a change notice on a Redis channel, at once and again
when its transaction commits (bulk ``QuerySet.update`` sends no signal: change watched rows with
``save``). Each process holds one subscription to that channel and, before a request's first lookup,
reads what is waiting on its socket without blocking; a notice drops everything the process cached.
Redis queues a notice for every subscriber before it answers the PUBLISH, so a change made through any
process takes effect on every process from its next request, and a request costs no round trip to Redis
for it. When the subscription fails (Redis unreachable, the connection killed) the process drops
everything and caches nothing until it has subscribed again, since notices may have been missed
meanwhile. Entries also age out (``MFA_CONFIG_CACHE_MAX_AGE_SECONDS``), which bounds how long a change
whose notice never reached Redis (or a subscription that died silently) can go unseen. Without a shared
cache (the embedded default) nothing is cached: another process could not be told.

The first notice is sent before commit, so that the changing thread (and a test inside one transaction)
reads its own write; a thread that reads a watched row it changed in a still-open transaction puts that
uncommitted value in the process's cache until the commit's notice. The product never does so.

Cached values are shared between threads and requests: never change one (copy it first when a caller
must attach something to it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.db.models import Model, signals
from redis.backoff import NoBackoff
from redis.retry import Retry

from mfa_server.redis_clients import TIMEOUT_SECONDS, request_path_publisher

logger = logging.getLogger(__name__)

CHANGES_CHANNEL = "config-cache:changes"
SUBSCRIPTION_CLIENT_NAME = "mfa-config-cache"  # how the subscription shows in Redis's CLIENT LIST
RESUBSCRIBE_AFTER_SECONDS = 1.0  # after a failure, requests read the database without waiting on Redis

_lock = threading.Lock()  # the entries and the generation
_entries: dict[Hashable, Any] = {}
_generation = 0  # counts drops: a value loaded under an older generation is not kept
_dropped_at = 0.0  # time.monotonic() of the last drop
_listening = threading.Lock()  # the subscription
_subscription: _Subscription | None = None
_resubscribe_at = 0.0
_request = threading.local()  # .generation: what this thread's request heard (None: not yet)
_NOT_CACHING = -1  # what a request heard when there was no subscription


class _Subscription:
    """This process's subscription to the change notices (one connection, used under ``_listening``)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        # Kept referenced: a collected client closes its pool, this connection included.
        self.client = redis.Redis.from_url(
            settings.CACHES["default"]["LOCATION"],
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),  # a silent reconnect would hide the notices it missed
            client_name=SUBSCRIPTION_CLIENT_NAME,
        )
        self.pubsub = self.client.pubsub()
        try:
            self.pubsub.subscribe(_channel())
            confirmation = self.pubsub.get_message(timeout=TIMEOUT_SECONDS)
            if confirmation is None or confirmation["type"] != "subscribe":
                raise redis.ConnectionError(f"no confirmation of the subscription: {confirmation!r}")
        except BaseException:
            self.close()
            raise

    def heard_a_notice(self) -> bool:
        """Read every message waiting on the socket without blocking; True when there was any."""
        heard = False
        while self.pubsub.get_message(timeout=0.0) is not None:
            heard = True
        return heard

    def close(self) -> None:
        try:
            self.pubsub.close()
            self.client.close()
        except Exception:  # noqa: BLE001  (closing a broken connection: nothing left to do)
            logger.debug("closing the configuration subscription failed", exc_info=True)


def cached[T](key: Hashable, load: Callable[[], T]) -> T:
    """``load()``'s value for ``key``, from this process's cache while no change has been announced."""
    generation = _usable_generation()
    if generation is None:
        return load()
    with _lock:
        if generation == _generation and key in _entries:
            return _entries[key]
    value = load()
    with _lock:
        if _generation == generation:  # a change heard meanwhile: do not keep what may be stale
            _entries[key] = value
    return value


def watch(*models: type[Model]) -> None:
    """Make every process reload on each save and delete of ``models`` (call from an ``AppConfig.ready``)."""
    for model in models:
        signals.post_save.connect(_on_change, sender=model, dispatch_uid=f"config-cache-save-{model._meta.label}")
        signals.post_delete.connect(_on_change, sender=model, dispatch_uid=f"config-cache-delete-{model._meta.label}")


def announce_change() -> None:
    """Tell every process, this one at once, to drop what it cached (e.g. after the database was restored)."""
    if not _enabled():
        return
    _drop()
    _request.generation = None  # this thread's request reads its own change
    try:
        request_path_publisher(settings.CACHES["default"]["LOCATION"]).publish(_channel(), "changed")
    except Exception:  # noqa: BLE001  (every entry ages out; the log says a notice was lost)
        logger.warning("could not publish a configuration change to the shared cache", exc_info=True)


def _on_change(**_kwargs: Any) -> None:
    """Announce now, and once more on commit: a process may read the old row between the two."""
    announce_change()
    transaction.on_commit(announce_change)


def _enabled() -> bool:
    return settings.MFA_CONFIG_CACHE and isinstance(caches["default"], RedisCache)


def _channel() -> str:
    """The channel's name as the default cache names its keys (``KEY_PREFIX``, ``VERSION``)."""
    return caches["default"].make_key(CHANGES_CHANNEL)


def _request_begins(**_kwargs: Any) -> None:
    _request.generation = None
    _request.active = True


def _request_ends(**_kwargs: Any) -> None:
    _request.generation = None
    _request.active = False


request_started.connect(_request_begins, dispatch_uid="config-cache-request-started")
request_finished.connect(_request_ends, dispatch_uid="config-cache-request-finished")


def _usable_generation() -> int | None:
    """The generation lookups may use now (after hearing what was announced); None: do not cache now.

    Heard once per request: the lookups of one request share what the first one heard.
    """
    in_request = getattr(_request, "active", False)
    if in_request and _request.generation is not None:
        return None if _request.generation == _NOT_CACHING else _request.generation
    generation = _listen() if _enabled() else None
    if in_request:
        _request.generation = _NOT_CACHING if generation is None else generation
    return generation


def _listen() -> int | None:
    """Drop the cache on a notice, a lost subscription or old age; the generation now, or None (no subscription)."""
    global _subscription
    with _listening:
        if _subscription is not None and _subscription.pid != os.getpid():
            _subscription = None  # a forked child: the connection is its parent's
        if _subscription is not None:
            try:
                if _subscription.heard_a_notice():
                    _drop()
            except Exception:  # noqa: BLE001  (e.g. Redis restarted: subscribe again at once)
                logger.warning("configuration change notices: subscription lost", exc_info=True)
                _subscription.close()
                _subscription = None
                _drop()  # notices may have gone unheard: even a request under way stops trusting the cache
        if _subscription is None and not _subscribe():
            return None
    with _lock:
        if time.monotonic() - _dropped_at >= settings.MFA_CONFIG_CACHE_MAX_AGE_SECONDS:
            _drop_locked()
        return _generation


def _subscribe() -> bool:
    """Subscribe (at most once per ``RESUBSCRIBE_AFTER_SECONDS`` after a failure); False: caching stays off."""
    global _subscription, _resubscribe_at
    if time.monotonic() < _resubscribe_at:
        return False
    try:
        _subscription = _Subscription()
    except Exception:  # noqa: BLE001  (Redis unreachable: read the database meanwhile)
        logger.warning("configuration cache off: cannot subscribe to change notices", exc_info=True)
        _resubscribe_at = time.monotonic() + RESUBSCRIBE_AFTER_SECONDS
        return False
    _drop()  # changes made until the subscription was confirmed went unheard
    return True


def _drop() -> None:
    with _lock:
        _drop_locked()


def _drop_locked() -> None:
    global _generation, _dropped_at
    _entries.clear()
    _generation += 1
    _dropped_at = time.monotonic()
