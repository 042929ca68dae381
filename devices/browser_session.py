"""The approver web app's device session as seen by the WebSocket: the HttpOnly cookie, same origin only.

Browsers cannot set an ``Authorization`` header on a WebSocket, but they send cookies. A cookie is
ambient authority, so it is accepted only from a page of our own origin (cross-site WebSocket
hijacking defence), on top of the cookie being ``SameSite=Strict``.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from django.conf import settings


def origin_allowed(origin: str, host: str) -> bool:
    """True for the configured WebAuthn origins and for an origin whose host:port is the request's Host."""
    if not origin or origin == "null":
        return False
    if origin in settings.MFA_WEBAUTHN_ORIGINS:
        return True
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


def session_token_from_headers(headers: dict[bytes, bytes]) -> str | None:
    """The device token in the approver cookie of a same-origin WebSocket handshake, else None."""
    origin = headers.get(b"origin", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    if not origin_allowed(origin, host):
        return None
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
    except CookieError:
        return None
    morsel = cookie.get(settings.MFA_APPROVER_COOKIE_NAME)
    return morsel.value or None if morsel else None
