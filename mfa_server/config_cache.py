"""A process-local cache of the configuration every request reads (applications, policies, tenants).

An entry is valid while a generation token in the shared cache (Redis) is unchanged. Every save or
delete of a watched model replaces the token, at once and again when its transaction commits (bulk
``QuerySet.update`` sends no signal: change watched rows with ``save``); a process that sees a new token
(or cannot read it) drops everything it cached. So a change made through any process takes effect on
every process from its next request (a request reads the token once; outside requests, every lookup
reads it). The token also expires (``MFA_CONFIG_CACHE_MAX_AGE_SECONDS``), which bounds how long a change
whose notice never reached Redis can go unseen. Without a shared cache (the embedded default) nothing is
cached: another process could not be told.

The first notice is sent before commit, so that the changing thread (and a test inside one transaction)
reads its own write; a thread that reads a watched row it changed in a still-open transaction puts that
uncommitted value in the process's cache until the commit's notice. The product never does so.

Cached values are shared between threads and requests: never change one (copy it first when a caller
must attach something to it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any
from uuid import uuid4

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.db.models import Model, signals

from mfa_server.redis_clients import request_path_redis

logger = logging.getLogger(__name__)

GENERATION_KEY = "config-cache:generation"
_lock = threading.Lock()
_entries: dict[Hashable, Any] = {}
_generation: str | None = None
_request = threading.local()  # .token: what this thread's request read (None: not yet; "": Redis failed)


def cached[T](key: Hashable, load: Callable[[], T]) -> T:
    """``load()``'s value for ``key``, from this process's cache while the shared generation holds."""
    global _generation
    generation = _shared_generation()
    if generation is None:
        return load()
    with _lock:
        if generation != _generation:
            _entries.clear()
            _generation = generation
        if key in _entries:
            return _entries[key]
    value = load()
    with _lock:
        if _generation == generation:  # a newer generation seen meanwhile: do not keep what may be stale
            _entries[key] = value
    return value


def watch(*models: type[Model]) -> None:
    """Make every process reload on each save and delete of ``models`` (call from an ``AppConfig.ready``)."""
    for model in models:
        signals.post_save.connect(_on_change, sender=model, dispatch_uid=f"config-cache-save-{model._meta.label}")
        signals.post_delete.connect(_on_change, sender=model, dispatch_uid=f"config-cache-delete-{model._meta.label}")


def _on_change(**_kwargs: Any) -> None:
    """Bump now, and once more on commit: a process may read the old row between the two."""
    _bump()
    transaction.on_commit(_bump)


def _enabled() -> bool:
    return settings.MFA_CONFIG_CACHE and isinstance(caches["default"], RedisCache)


def _client() -> redis.Redis:
    """The shared cache's Redis (the default cache's location); a failure means "read the database"."""
    return request_path_redis(settings.CACHES["default"]["LOCATION"], decode_responses=True)


def _request_begins(**_kwargs: Any) -> None:
    _request.token = None
    _request.active = True


def _request_ends(**_kwargs: Any) -> None:
    _request.token = None
    _request.active = False


request_started.connect(_request_begins, dispatch_uid="config-cache-request-started")
request_finished.connect(_request_ends, dispatch_uid="config-cache-request-finished")


def _shared_generation() -> str | None:
    """The current token (created when missing, e.g. after a flush); None: do not cache right now.

    Read once per request: the lookups of one request share what the first one read.
    """
    global _generation
    if not _enabled():
        return None
    in_request = getattr(_request, "active", False)
    if in_request and _request.token is not None:
        return _request.token or None  # "": Redis failed earlier in this request, do not wait on it again
    try:
        token = _read_or_create_token()
    except Exception:  # noqa: BLE001  (Redis unreachable: read the database, forget what we held)
        logger.warning("config cache disabled for this lookup: the shared cache is unreachable", exc_info=True)
        token = None
    if token is None:
        with _lock:
            _entries.clear()
            _generation = None
    if in_request:
        _request.token = token or ""
    return token


def _token_key() -> str:
    """The token's key as the default cache names its keys (``KEY_PREFIX``, ``VERSION``)."""
    return caches["default"].make_key(GENERATION_KEY)


def _read_or_create_token() -> str | None:
    client, key = _client(), _token_key()
    token = client.get(key)
    if token is None:
        client.set(key, _new_token(), ex=settings.MFA_CONFIG_CACHE_MAX_AGE_SECONDS, nx=True)
        token = client.get(key)
    return token


def _new_token() -> str:
    return uuid4().hex


def _bump() -> None:
    if not _enabled():
        return
    _request.token = None  # this thread's request reads its own change
    try:
        _client().set(_token_key(), _new_token(), ex=settings.MFA_CONFIG_CACHE_MAX_AGE_SECONDS)
    except Exception:  # noqa: BLE001  (processes that cannot read the token do not cache either)
        logger.warning("could not publish a configuration change to the shared cache", exc_info=True)
