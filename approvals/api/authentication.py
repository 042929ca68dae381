"""Signed-request authentication of relying services (Duo-compatible signature v2 / v4 / v5)."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from approvals.applications import active_application
from approvals.models import Application
from approvals.signing import parse_authorization, signature_matches
from mfa_server.crypto import decrypt_application_secret
from mfa_server.errors import SignatureInvalidError, TimestampInvalidError

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class SignedRequestAuthentication(BaseAuthentication):
    """Authenticates ``Authorization: Basic base64(ikey:hmac)`` with a ``Date`` / ``X-Duo-Date`` header.

    On success ``request.user`` is the ``Application`` and ``request.auth`` a digest of the signed
    request, which services use to recognise a replay of the very same request.
    """

    def authenticate(self, request: Request) -> tuple[Application, str]:
        parsed = parse_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
        if parsed is None:
            raise SignatureInvalidError()
        ikey, signature = parsed
        date = request.META.get("HTTP_X_DUO_DATE") or request.META.get("HTTP_DATE", "")
        self._check_date(date)
        shared = active_application(ikey)
        if shared is None:
            raise SignatureInvalidError()
        application = copy.copy(shared)  # this request's own instance: it carries a per-request memo
        body = request._request.body
        query_params = parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)
        is_form = request.content_type.split(";")[0].strip() == FORM_CONTENT_TYPE
        form_params = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True) if is_form else query_params
        x_duo = {k[5:].replace("_", "-").lower(): v for k, v in request.META.items() if k.startswith("HTTP_X_DUO")}
        secret = decrypt_application_secret(application.secret_encrypted)
        # The host the client called (almost always the one it signed), then the configured API hostname.
        hosts = dict.fromkeys([request.get_host().rsplit(":", 1)[0].lower(), settings.MFA_API_HOSTNAME.lower()])
        if not any(
            signature_matches(
                secret=secret,
                signature=signature,
                date=date,
                method=request.method or "GET",
                host=host,
                path=request.path,
                form_params=form_params,
                query_params=query_params,
                body=body,  # v4/v5 hash the raw body whatever its type; v2 signs the form parameters instead
                x_duo_headers=x_duo,
            )
            for host in hosts
        ):
            raise SignatureInvalidError()
        application.request_cache = {}  # a per-request memo (the effective policy), see policies.selectors
        return application, hashlib.sha256(f"{ikey}:{signature}".encode()).hexdigest()

    @staticmethod
    def _check_date(date: str) -> None:
        try:
            signed_at = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            raise TimestampInvalidError() from None
        if signed_at.tzinfo is None:  # "-0000" (what duo_client sends) parses as naive: it means UTC
            signed_at = signed_at.replace(tzinfo=UTC)
        if abs((timezone.now() - signed_at).total_seconds()) > settings.MFA_SIGNATURE_SKEW_SECONDS:
            raise TimestampInvalidError()

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="mfa"'


class SignedRequestScheme(OpenApiAuthenticationExtension):
    """Documents the signed-request scheme in the OpenAPI document."""

    target_class = SignedRequestAuthentication
    name = "signedRequest"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "`Basic base64(integration_key:hex(HMAC(secret_key, canonical request)))` plus a `Date` "
            "(or `X-Duo-Date`) header within the allowed skew; Duo signature v5 (HMAC-SHA512, JSON body hash) "
            "or v2 (HMAC-SHA1/SHA512 over the form parameters).",
        }
