"""The approver's device session: an HttpOnly, SameSite=Strict cookie holding the device token.

The cookie is set once, after a successful WebAuthn registration, and is never readable by script.
Every state-changing request must also pass Django's CSRF check (token from the page + Origin),
exactly like DRF's ``SessionAuthentication``.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from devices.models import Device
from devices.selectors import device_for_token
from mfa_server.errors import DomainError, NotAuthenticatedError
from mfa_server.net import client_ip


def cookie_token(cookies: dict[str, str]) -> str | None:
    """The device token in the session cookie, if any."""
    return cookies.get(settings.MFA_APPROVER_COOKIE_NAME) or None


def device_from_cookie(cookies: dict[str, str], client_ip: str | None = None) -> Device | None:
    """The active device of the session cookie, or None (no cookie, unknown or revoked device)."""
    token = cookie_token(cookies)
    if not token:
        return None
    try:
        return device_for_token(token=token, client_ip=client_ip)
    except DomainError:
        return None


def set_session_cookie(response: HttpResponse, token: str) -> None:
    """Start the device session: HttpOnly, SameSite=Strict, Secure unless DEBUG, for the whole site (/ws too)."""
    response.set_cookie(
        settings.MFA_APPROVER_COOKIE_NAME,
        token,
        max_age=settings.MFA_APPROVER_COOKIE_MAX_AGE,
        path="/",
        secure=not settings.DEBUG,
        httponly=True,
        samesite="Strict",
    )


def clear_session_cookie(response: HttpResponse) -> None:
    """End the device session in the browser (the device itself is revoked by the caller)."""
    response.delete_cookie(settings.MFA_APPROVER_COOKIE_NAME, path="/", samesite="Strict")


class CsrfFailedError(DomainError):
    code = "csrf_failed"
    http_status = 403
    default_message = "The page is out of date; reload it and try again."


class _CsrfEnforcing(SessionAuthentication):
    def enforce_csrf(self, request: Request) -> None:
        try:
            super().enforce_csrf(request)
        except exceptions.PermissionDenied as exc:
            raise CsrfFailedError() from exc


class CsrfOnly(_CsrfEnforcing):
    """No identity, but CSRF is enforced on unsafe methods (the registration endpoints)."""

    def authenticate(self, request: Request) -> None:
        self.enforce_csrf(request)
        return None


class DeviceCookieAuthentication(_CsrfEnforcing):
    """``request.user`` is the active ``Device`` of the session cookie; CSRF enforced on unsafe methods."""

    def authenticate(self, request: Request) -> tuple[Device, str]:
        token = cookie_token(request.COOKIES)
        if not token:
            raise NotAuthenticatedError()
        device = device_for_token(token=token, client_ip=client_ip(request))
        if device.kind != Device.Kind.WEBAUTHN:
            # The cookie is only ever issued to WebAuthn devices; an app-key token must keep proving with its key.
            raise NotAuthenticatedError()
        self.enforce_csrf(request)
        return device, token

    def authenticate_header(self, request: Request) -> str:
        return 'Cookie realm="approver"'
