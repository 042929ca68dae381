"""A process-local cache of the configuration every request reads (applications, policies).

An entry is valid while a generation token in the shared cache (Redis) is unchanged. Every save or
delete of a watched model replaces the token, at once and again when its transaction commits, and
``config_changed`` does the same for bulk updates that send no signals; a process that sees a new token
(or cannot read it) drops everything it cached. So a change made through any process takes effect on
every process from its next lookup. Without a shared cache (the embedded default) nothing is cached:
another process could not be told.

Cached values are shared between threads: store immutable values, or copy them on the way out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.db.models import Model, signals

logger = logging.getLogger(__name__)

GENERATION_KEY = "config-cache:generation"
_lock = threading.Lock()
_entries: dict[Hashable, Any] = {}
_generation: str | None = None


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


def config_changed() -> None:
    """Make every process reload: now, and once more when the current transaction commits.

    The second bump covers a process that read the old row after the first one but before the commit.
    """
    _bump()
    transaction.on_commit(_bump)


def watch(*models: type[Model]) -> None:
    """Call ``config_changed`` on every save and delete of ``models`` (from an ``AppConfig.ready``)."""
    for model in models:
        signals.post_save.connect(_on_change, sender=model, dispatch_uid=f"config-cache-save-{model._meta.label}")
        signals.post_delete.connect(_on_change, sender=model, dispatch_uid=f"config-cache-delete-{model._meta.label}")


def _on_change(**_kwargs: Any) -> None:
    config_changed()


def _enabled() -> bool:
    return settings.MFA_CONFIG_CACHE and isinstance(caches["default"], RedisCache)


def _shared_generation() -> str | None:
    """The current token (created when missing, e.g. after a flush); None: do not cache right now."""
    global _generation
    if not _enabled():
        return None
    try:
        token = cache.get(GENERATION_KEY)
        if token is None:
            cache.add(GENERATION_KEY, uuid4().hex, timeout=None)
            token = cache.get(GENERATION_KEY)
    except Exception:  # noqa: BLE001  (Redis unreachable: read the database, forget what we held)
        logger.warning("config cache disabled for this lookup: the shared cache is unreachable", exc_info=True)
        token = None
    if token is None:
        with _lock:
            _entries.clear()
            _generation = None
    return token


def _bump() -> None:
    if not _enabled():
        return
    try:
        cache.set(GENERATION_KEY, uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001  (processes that cannot read the token do not cache either)
        logger.warning("could not publish a configuration change to the shared cache", exc_info=True)
