"""The one base class of every domain error: a stable machine code plus an HTTP status."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """An expected failure that the API renders as RFC 9457 problem details.

    ``code`` never changes once released; ``extra`` carries safe, structured detail.
    """

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The request could not be completed."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.default_message
        self.extra = extra
        super().__init__(self.message)


class InvalidInputError(DomainError):
    code = "invalid_input"
    default_message = "The request is not valid."


class SignatureInvalidError(DomainError):
    code = "signature_invalid"
    http_status = 401
    default_message = "The request signature is missing or invalid."


class TimestampInvalidError(DomainError):
    code = "timestamp_invalid"
    http_status = 401
    default_message = "The request timestamp is missing or outside the allowed window."


class NotAuthenticatedError(DomainError):
    code = "not_authenticated"
    http_status = 401
    default_message = "Credentials are missing or invalid."


class NotPermittedError(DomainError):
    code = "not_permitted"
    http_status = 403
    default_message = "This operation is not permitted."


class NotFoundError(DomainError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class RateLimitedError(DomainError):
    code = "rate_limited"
    http_status = 429
    default_message = "Too many attempts; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int, **extra: Any) -> None:
        super().__init__(message, retry_after=retry_after, **extra)
        self.retry_after = retry_after
