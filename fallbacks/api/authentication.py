"""A device proves itself with its API token header (apps, reference client) or its approver session cookie."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
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


class DeviceTokenOrCookieScheme(OpenApiAuthenticationExtension):
    """Documents the two alternatives in the OpenAPI document: the device token (``deviceToken``, defined by
    the device API's own scheme), or the approver web app's session cookie."""

    target_class = DeviceTokenOrCookieAuthentication
    name = "approverSession"

    def get_security_requirement(self, auto_schema: object) -> list[dict[str, list[Any]]]:
        return [{"deviceToken": []}, {self.name: []}]  # either one

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.MFA_APPROVER_COOKIE_NAME,
            "description": "The approver web app's HttpOnly session (CSRF token required on unsafe methods).",
        }
