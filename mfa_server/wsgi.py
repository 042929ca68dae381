"""WSGI entry for the HTTP API (the fast path in production; WebSockets need the ASGI entry).

API calls (paths under ``settings.MFA_API_PATH_PREFIXES``) go through a second Django handler built with
``settings.MFA_API_MIDDLEWARE``: they are DRF views, exempt from CSRF, authenticated by a signature or a
device token, and never use a session, a login, messages or frames, so the middleware for those only
costs them time. Everything else (admin, approver pages, the Duo prompt) keeps the full ``MIDDLEWARE``.
"""

import gc
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
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


class ApiCallHandler(WSGIHandler):
    """Django's WSGI handler with ``settings.MFA_API_MIDDLEWARE`` instead of ``MIDDLEWARE``."""

    def load_middleware(self, is_async: bool = False) -> None:
        every = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.MFA_API_MIDDLEWARE  # read once, here, before any request
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = every


def by_path(pages: WsgiApp, api_calls: WsgiApp) -> WsgiApp:
    """``api_calls`` for paths under ``settings.MFA_API_PATH_PREFIXES``, ``pages`` for every other."""
    prefixes = tuple(settings.MFA_API_PATH_PREFIXES)

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = api_calls if environ.get("PATH_INFO", "").startswith(prefixes) else pages
        return app(environ, start_response)

    return route


pages = get_wsgi_application()  # sets Django up first
# Many threads (waiting logins hold theirs), few of them working at once.
application = limit_working_requests(
    with_whole_bodies(by_path(pages, ApiCallHandler())), slots=settings.MFA_HTTP_WORKING_REQUESTS
)
# Everything loaded so far lives as long as the process: move it out of the collector's view, so the
# collections that requests trigger stop re-scanning the whole framework each time.
gc.freeze()
