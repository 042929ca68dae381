"""Device API authentication: ``Authorization: Device <token>`` issued once at activation."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from devices.selectors import device_for_token
from mfa_server.errors import NotAuthenticatedError
from mfa_server.net import client_ip

SCHEME = "device"


def token_from_header(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == SCHEME else None


class DeviceTokenAuthentication(BaseAuthentication):
    """``request.user`` becomes the active ``Device``; revoked devices are refused with ``device_revoked``.

    When the URL names a transaction (``approval_id``), its row is read with the device's (``device_for_token``).
    """

    def authenticate(self, request: Request) -> tuple[object, str]:
        token = token_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
        if not token:
            raise NotAuthenticatedError()
        # A call about one transaction (its id in the URL) reads it with the device: one round trip.
        approval_id = (request.parser_context or {}).get("kwargs", {}).get("approval_id")
        return device_for_token(token=token, client_ip=client_ip(request), approval_id=approval_id), token

    def authenticate_header(self, request: Request) -> str:
        return 'Device realm="mfa"'


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    """Documents the device token scheme in the OpenAPI document."""

    target_class = DeviceTokenAuthentication
    name = "deviceToken"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Device <token>`, the token returned once by `activate`.",
        }
