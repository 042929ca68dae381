"""A device proves itself with its API token header (apps, reference client) or its approver session cookie."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from approver.authentication import DeviceCookieAuthentication
from devices.api.authentication import DeviceTokenAuthentication


class DeviceTokenOrCookieAuthentication(BaseAuthentication):
    """``Authorization: Device <token>`` when present, else the web client's HttpOnly session cookie.

    The cookie path enforces CSRF on unsafe methods (DRF ``SessionAuthentication`` semantics).
    """

    def authenticate(self, request: Request) -> tuple[object, str] | None:
        if request.META.get("HTTP_AUTHORIZATION"):
            return DeviceTokenAuthentication().authenticate(request)
        return DeviceCookieAuthentication().authenticate(request)

    def authenticate_header(self, request: Request) -> str:
        return DeviceTokenAuthentication().authenticate_header(request)
