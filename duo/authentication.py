"""Duo Auth API request authentication: approvals' signature check plus Duo's distinct 401 codes.

The canonicalisation and HMAC checks (v2 SHA1/SHA512 with form bodies, v4/v5 with JSON bodies, X-Duo-*
header hash, ``X-Duo-Date`` else ``Date``, host without port, ±``MFA_SIGNATURE_SKEW_SECONDS``) are those of
``approvals.api.authentication.SignedRequestAuthentication``, reused unchanged. This class only adds
the order and codes Duo uses: malformed header 40101, unknown integration key 40102, then timestamp
40105 and signature 40103 (spec duo-compat.md §1.3).
"""

from __future__ import annotations

from rest_framework.request import Request

from approvals.api.authentication import SignedRequestAuthentication
from approvals.applications import active_application
from approvals.models import Application
from approvals.signing import parse_authorization
from duo.exceptions import DuoCredentialsMissingError, DuoIntegrationKeyInvalidError


class DuoSignedRequestAuthentication(SignedRequestAuthentication):
    """``request.user`` is the Application, ``request.auth`` the digest of the signed request (replay key)."""

    def authenticate(self, request: Request) -> tuple[Application, str]:
        parsed = parse_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
        if parsed is None:
            raise DuoCredentialsMissingError()
        if active_application(parsed[0]) is None:  # the lookup the signature check then repeats from cache
            raise DuoIntegrationKeyInvalidError()
        return super().authenticate(request)

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="duo"'
