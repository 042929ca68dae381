"""How many relying calls of one application may wait for their users at once, per server process.

A synchronous ``auth`` and a long-polled status hold an HTTP thread until the user answers, and a
process has a fixed number of threads (``--blocking-threads`` in deploy/Procfile). Without a cap, one
relying service (a retry loop, a stolen integration key) could take every one of them, and every other
tenant's logins would queue behind its waits. Past ``MFA_WAITING_CALLS_PER_APPLICATION``, a call that
would wait is refused before it changes anything (``TooManyWaitingCallsError``: 429 with Retry-After,
which duo_client retries with back-off). Asynchronous calls and polls without ``wait`` never count.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from approvals.exceptions import TooManyWaitingCallsError

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_waiting: Counter[int] = Counter()  # application id -> calls of this process holding a permit


@contextmanager
def waiting_permit(application_id: int, *, needed: bool = True) -> Iterator[None]:
    """Hold one of the application's waiting permits around a call that will wait (a no-op unless
    ``needed``); raises ``TooManyWaitingCallsError`` when all are taken."""
    if not needed:
        yield
        return
    with _lock:
        if _waiting[application_id] >= settings.MFA_WAITING_CALLS_PER_APPLICATION:
            logger.warning("application %s: waiting-call cap reached, call refused", application_id)
            raise TooManyWaitingCallsError()
        _waiting[application_id] += 1
    try:
        yield
    finally:
        with _lock:
            _waiting[application_id] -= 1
            if not _waiting[application_id]:
                del _waiting[application_id]
