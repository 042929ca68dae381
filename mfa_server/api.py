"""One exception handler for every API view: RFC 9457 problem details with a stable ``code``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from mfa_server.errors import DomainError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://mfa.invalid/problems/"


class OneRendererNegotiation(DefaultContentNegotiation):
    """A view with one renderer (our JSON API) answers in it whatever ``Accept`` says.

    RFC 9110 lets a server disregard ``Accept`` and send its one representation; parsing the header and
    the query string on every call bought nothing but a 406. Views with a choice (the OpenAPI schema)
    still negotiate.
    """

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        if len(renderers) == 1 and not format_suffix:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


def problem_body(*, code: str, status: int, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """The RFC 9457 document itself (type, title, status, detail) plus our ``code`` and optional ``fields``."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if fields:
        body["fields"] = fields
    return body


def problem_response(
    *, code: str, status: int, detail: str, fields: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Response:
    """Build a problem-details response; ``code`` is the machine-readable identifier clients switch on."""
    body = problem_body(code=code, status=status, detail=detail, fields=fields)
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def not_found(request: HttpRequest) -> HttpResponse:
    """Any API path that matches no route (a malformed transaction id, say): problem details, also under
    DEBUG, where Django would answer its HTML page rather than call ``handler404``."""
    body = problem_body(code="not_found", status=404, detail="Not found.")
    return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE)


FRAMEWORK_ERROR_CODES: dict[type[drf_exceptions.APIException], str] = {
    drf_exceptions.ParseError: "invalid_input",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "not_authenticated",
    drf_exceptions.PermissionDenied: "not_permitted",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.Throttled: "rate_limited",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render domain, validation and framework errors; anything else is a logged 500 without detail."""
    if isinstance(exc, DomainError):
        headers = {"Retry-After": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
        if exc.http_status == 401:
            # The challenge of the view's own scheme: "Device" on the device API, "Basic" on the relying API.
            view, request = context.get("view"), context.get("request")
            challenge = view.get_authenticate_header(request) if view is not None and request is not None else None
            headers = {**(headers or {}), "WWW-Authenticate": challenge or 'Basic realm="mfa"'}
        return problem_response(
            code=exc.code, status=exc.http_status, detail=exc.message, fields=exc.extra or None, headers=headers
        )
    if isinstance(exc, drf_exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return problem_response(code="invalid_input", status=400, detail="The request is not valid.", fields=fields)
    if isinstance(exc, DjangoValidationError):
        return problem_response(
            code="invalid_input",
            status=400,
            detail="The request is not valid.",
            fields={"non_field_errors": exc.messages},
        )
    if isinstance(exc, Http404):
        return problem_response(code="not_found", status=404, detail="Not found.")
    if isinstance(exc, PermissionDenied):
        return problem_response(code="not_permitted", status=403, detail="This operation is not permitted.")
    if isinstance(exc, drf_exceptions.APIException):
        code = FRAMEWORK_ERROR_CODES.get(type(exc), "error")
        return problem_response(code=code, status=exc.status_code, detail=str(exc.detail))
    logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return problem_response(code="server_error", status=500, detail="Internal error.")
