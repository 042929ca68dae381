"""WSGI entry for the HTTP API (the fast path in production; WebSockets need the ASGI entry)."""

import gc
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from mfa_server.request_slots import WsgiApp, limit_working_requests

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mfa_server.settings")


def with_whole_bodies(app: WsgiApp) -> WsgiApp:
    """``app`` answering a finished response as a one-item list and closing it at once.

    Django returns the response object itself, which the server then iterates and closes from its
    own thread (granian calls back into Python per chunk); a list is sent in one call. Streaming
    and file responses are still handed over to be iterated.
    """

    def whole(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response: Any = app(environ, start_response)
        if getattr(response, "streaming", True):
            return response
        try:
            return [response.content]
        finally:
            response.close()

    return whole


# Many threads (waiting logins hold theirs), few of them working at once.
application = limit_working_requests(
    with_whole_bodies(get_wsgi_application()), slots=settings.MFA_HTTP_WORKING_REQUESTS
)
# Everything loaded so far lives as long as the process: move it out of the collector's view, so the
# collections that requests trigger stop re-scanning the whole framework each time.
gc.freeze()
