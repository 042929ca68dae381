"""Duo's failure envelope and code table (duo/responses.py), pinned: relying services switch on these."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ErrorDetail, ValidationError

from approvals.exceptions import ApprovalNotFoundError
from duo.exceptions import DuoIntegrationKeyInvalidError, DuoVerifiedPushRequiredError
from duo.responses import DUO_ERRORS, duo_exception_handler
from mfa_server.errors import DomainError, RateLimitedError, SignatureInvalidError, TimestampInvalidError


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("duo_missing_parameter", (400, 40001, "Missing required request parameters")),
        ("duo_invalid_parameter", (400, 40002, "Invalid request parameters")),
        ("duo_credentials_missing", (401, 40101, "Missing request credentials")),
        ("duo_integration_key_invalid", (401, 40102, "Invalid integration key in request credentials")),
        ("signature_invalid", (401, 40103, "Invalid signature in request credentials")),
        ("timestamp_invalid", (401, 40105, "Bad request timestamp")),
        ("policy_denied", (403, 40301, "Access forbidden")),
        ("not_found", (404, 40401, "Resource not found")),
        ("method_not_allowed", (405, 40501, "Method not allowed")),
        ("rate_limited", (429, 42901, "Too Many Requests")),
        ("server_error", (500, 50000, "Internal server error")),
    ],
)
def test_duo_errors__table__pinned(code, expected):
    assert DUO_ERRORS[code] == expected


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (
            SignatureInvalidError(),
            401,
            {"stat": "FAIL", "code": 40103, "message": "Invalid signature in request credentials"},
        ),
        (TimestampInvalidError(), 401, {"stat": "FAIL", "code": 40105, "message": "Bad request timestamp"}),
        (
            DuoIntegrationKeyInvalidError(),
            401,
            {"stat": "FAIL", "code": 40102, "message": "Invalid integration key in request credentials"},
        ),
        (
            DuoVerifiedPushRequiredError(detail="verified push required"),
            400,
            {
                "stat": "FAIL",
                "code": 40002,
                "message": "Invalid request parameters",
                "message_detail": "verified push required",
            },
        ),
        (
            ApprovalNotFoundError(),
            400,
            {
                "stat": "FAIL",
                "code": 40002,
                "message": "Invalid request parameters",
                "message_detail": "approval_not_found",
            },
        ),
        (
            RateLimitedError(retry_after=7),
            429,
            {"stat": "FAIL", "code": 42901, "message": "Too Many Requests", "message_detail": "rate_limited"},
        ),
    ],
)
def test_duo_exception_handler__domain_errors__duo_envelope(exc, status, body):
    response = duo_exception_handler(exc, {})
    assert (response.status_code, response.data) == (status, body)
    if status == 401:
        assert response["WWW-Authenticate"] == 'Basic realm="duo"'
    if status == 429:
        assert response["Retry-After"] == "7"


def test_duo_exception_handler__unknown_domain_error__by_http_status():
    class SomethingElseError(DomainError):
        code = "something_else"
        http_status = 409

    response = duo_exception_handler(SomethingElseError(), {})
    assert (response.status_code, response.data["code"], response.data["message_detail"]) == (
        400,
        40002,
        "something_else",
    )


def test_duo_exception_handler__missing_parameter__40001_names_it():
    exc = ValidationError({"factor": [ErrorDetail("This field is required.", code="required")]})
    response = duo_exception_handler(exc, {})
    assert (response.status_code, response.data) == (
        400,
        {"stat": "FAIL", "code": 40001, "message": "Missing required request parameters", "message_detail": "factor"},
    )


def test_duo_exception_handler__unexpected_exception__500_without_detail():
    response = duo_exception_handler(RuntimeError("secret internals"), {})
    assert (response.status_code, response.data) == (
        500,
        {"stat": "FAIL", "code": 50000, "message": "Internal server error"},
    )
