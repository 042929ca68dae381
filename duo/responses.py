"""Duo's response envelope and the one table of Duo error codes (spec duo-compat.md §1.5).

Success: ``{"stat": "OK", "response": ...}``. Failure: ``{"stat": "FAIL", "code": <int>, "message": str,
"message_detail"?: str}``. ``duo_client`` raises on any non-200 status and on any ``stat`` other than OK.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from duo.exceptions import OidcError
from mfa_server.errors import DomainError

logger = logging.getLogger(__name__)

# our stable error code -> (HTTP status, Duo code, Duo message). Pinned by tests/duo/test_envelope.py.
DUO_ERRORS: dict[str, tuple[int, int, str]] = {
    "duo_missing_parameter": (400, 40001, "Missing required request parameters"),
    "duo_invalid_parameter": (400, 40002, "Invalid request parameters"),
    "invalid_input": (400, 40002, "Invalid request parameters"),
    "duo_verified_push_required": (400, 40002, "Invalid request parameters"),
    "factor_not_supported": (400, 40002, "Invalid request parameters"),
    "enrollment_required": (400, 40002, "Invalid request parameters"),
    "factor_not_allowed": (400, 40002, "Invalid request parameters"),
    "factor_unavailable": (400, 40002, "Invalid request parameters"),
    "approval_not_found": (400, 40002, "Invalid request parameters"),
    "duo_credentials_missing": (401, 40101, "Missing request credentials"),
    "not_authenticated": (401, 40101, "Missing request credentials"),
    "duo_integration_key_invalid": (401, 40102, "Invalid integration key in request credentials"),
    "signature_invalid": (401, 40103, "Invalid signature in request credentials"),
    "timestamp_invalid": (401, 40105, "Bad request timestamp"),
    "not_permitted": (403, 40301, "Access forbidden"),
    "policy_denied": (403, 40301, "Access forbidden"),
    # not 429: duo_client would resend the identical request six times over ~63 s before giving up;
    # only short waits (sms_cooldown, code back-off) keep their 429 and are retried by the client
    "push_rate_limited": (400, 40002, "Invalid request parameters"),
    "sms_subscriber_cap": (400, 40002, "Invalid request parameters"),
    "sms_destination_cap": (400, 40002, "Invalid request parameters"),
    "sms_tenant_cap": (400, 40002, "Invalid request parameters"),
    "not_found": (404, 40401, "Resource not found"),
    "duo_logo_not_found": (404, 40401, "Resource not found"),
    "method_not_allowed": (405, 40501, "Method not allowed"),
    "rate_limited": (429, 42901, "Too Many Requests"),
    "server_error": (500, 50000, "Internal server error"),
}
# Errors of other apps (fallbacks, policies...) not in the table: by HTTP status, 409 answered as a 400.
_BY_STATUS: dict[int, tuple[int, int, str]] = {
    400: DUO_ERRORS["duo_invalid_parameter"],
    401: DUO_ERRORS["duo_credentials_missing"],
    403: DUO_ERRORS["not_permitted"],
    404: DUO_ERRORS["not_found"],
    409: DUO_ERRORS["duo_invalid_parameter"],
    429: DUO_ERRORS["rate_limited"],
}

_DRF_CODES: dict[type[drf_exceptions.APIException], str] = {
    drf_exceptions.ParseError: "duo_invalid_parameter",
    drf_exceptions.UnsupportedMediaType: "duo_invalid_parameter",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "not_authenticated",
    drf_exceptions.PermissionDenied: "not_permitted",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.Throttled: "rate_limited",
}


def duo_ok(response: Any, *, status: int = 200) -> Response:
    """The success envelope (HTTP 200 for every success, including a deny result)."""
    return Response({"stat": "OK", "response": response}, status=status)


def duo_fail(code: str, *, detail: str = "", headers: dict[str, str] | None = None, http_status: int = 400) -> Response:
    """The failure envelope for one of our error codes, translated through ``DUO_ERRORS`` (else by status)."""
    fallback = _BY_STATUS.get(
        http_status, DUO_ERRORS["server_error" if http_status >= 500 else "duo_invalid_parameter"]
    )
    http_status, duo_code, message = DUO_ERRORS.get(code, fallback)
    body: dict[str, Any] = {"stat": "FAIL", "code": duo_code, "message": message}
    if detail:
        body["message_detail"] = detail
    return Response(body, status=http_status, headers=headers)


def _validation_detail(detail: Any) -> tuple[str, str]:
    """(our code, message_detail) for a DRF validation error: 40001 when a parameter is missing."""
    if not isinstance(detail, dict):
        return "duo_invalid_parameter", ""
    missing = sorted(k for k, v in detail.items() if any(getattr(e, "code", "") == "required" for e in v))
    if missing:
        return "duo_missing_parameter", ", ".join(missing)
    return "duo_invalid_parameter", ", ".join(sorted(detail))


def duo_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler of every Auth API view: Duo's FAIL envelope, never a problem document."""
    if isinstance(exc, DomainError):
        headers = {"Retry-After": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
        if exc.http_status == 401:
            headers = {**(headers or {}), "WWW-Authenticate": 'Basic realm="duo"'}
        detail = str(exc.extra.get("detail", "")) if exc.extra else ""
        if not detail and exc.http_status != 401 and not exc.code.startswith("duo_"):
            detail = exc.code  # e.g. factor_unavailable, sms_cooldown: our stable code, safe to show
        return duo_fail(exc.code, detail=detail, headers=headers, http_status=exc.http_status)
    if isinstance(exc, drf_exceptions.ValidationError):
        code, detail = _validation_detail(exc.detail)
        return duo_fail(code, detail=detail)
    if isinstance(exc, Http404):
        return duo_fail("not_found")
    if isinstance(exc, PermissionDenied):
        return duo_fail("not_permitted")
    if isinstance(exc, drf_exceptions.APIException):
        return duo_fail(_DRF_CODES.get(type(exc), "duo_invalid_parameter"))
    view = context.get("view")
    logger.exception("unhandled error in %s", view.__class__.__name__ if view else "duo view")
    return duo_fail("server_error")


def oauth_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Universal Prompt token endpoint: OAuth 2.0 ``{"error", "error_description"}`` JSON (never HTML)."""
    if isinstance(exc, OidcError):
        error, status, description = exc.oauth_error, exc.http_status, exc.message
    elif isinstance(exc, drf_exceptions.APIException | DomainError):
        error, status, description = "invalid_request", 400, "The request is missing a parameter or is malformed."
    else:
        view = context.get("view")
        logger.exception("unhandled error in %s", view.__class__.__name__ if view else "oidc view")
        error, status, description = "server_error", 500, "Internal server error."
    return Response(
        {"error": error, "error_description": description}, status=status, headers={"Cache-Control": "no-store"}
    )


def health_check_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Universal Prompt health check: Duo's FAIL envelope plus ``timestamp`` (the library reads only ``stat``)."""
    response = oauth_exception_handler(exc, context)
    assert response is not None
    body = {
        "stat": "FAIL",
        "code": 40101 if response.status_code == 401 else 40002,
        "message": response.data["error"],
        "message_detail": response.data["error_description"],
        "timestamp": int(timezone.now().timestamp()),
    }
    return Response(body, status=response.status_code)
