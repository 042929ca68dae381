"""What drf-spectacular does not document by itself: failures, and the IP address fields.

Every API operation answers failures as RFC 9457 problem details: ``document_problems`` (a postprocessing
hook) adds the ``Problem`` schema and, on every operation, the ``4XX`` and ``5XX`` responses in
``application/problem+json``, listing the machine codes a client may switch on by HTTP status.
``IpAddressFieldSchema`` (registered on import; ``mfa_server.urls`` imports this module) documents
DRF's ``IPAddressField`` as the IPv4 or IPv6 address it accepts, not as any string.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension

from mfa_server.api import FRAMEWORK_ERROR_CODES, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE
from mfa_server.errors import DomainError

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details, plus the stable machine-readable `code`.",
    "properties": {
        "type": {"type": "string", "format": "uri", "example": PROBLEM_TYPE_BASE + "invalid_input"},
        "title": {"type": "string", "example": "Invalid input"},
        "status": {"type": "integer", "example": 400},
        "detail": {"type": "string", "example": "The request is not valid."},
        "code": {
            "type": "string",
            "description": "Stable once released; new codes may be added. Clients switch on this.",
            "example": "invalid_input",
        },
        "fields": {
            "type": "object",
            "description": "Invalid input: the messages of each field (`non_field_errors` for the whole body).",
            "additionalProperties": True,
        },
        "retry_after": {"type": "integer", "description": "Rate limits: seconds to wait (also `Retry-After`)."},
    },
    "required": ["type", "title", "status", "detail", "code"],
    "additionalProperties": True,
}


# Errors of the other surfaces: Duo's APIs answer in Duo's own format, the approver web app on its pages.
OTHER_SURFACES = ("duo.", "approver.")


def _subclasses(cls: type[DomainError]) -> list[type[DomainError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def problem_codes_by_status() -> dict[int, list[str]]:
    """Every code the native API may answer, by HTTP status: the domain errors of the loaded apps, except
    those of ``OTHER_SURFACES``, and the framework's (malformed bodies, unsupported methods and media
    types, unexpected failures)."""
    codes: dict[int, set[str]] = defaultdict(set)
    for error in [DomainError, *_subclasses(DomainError)]:
        if not error.__module__.startswith(OTHER_SURFACES):
            codes[error.http_status].add(error.code)
    for framework_error, code in FRAMEWORK_ERROR_CODES.items():
        codes[framework_error.status_code].add(code)
    codes[404].add("not_found")  # a path that matches no route
    codes[500].add("server_error")
    return {status: sorted(names) for status, names in sorted(codes.items())}


def _response(description: str, codes: dict[int, list[str]]) -> dict[str, Any]:
    listing = "; ".join(f"{status}: {', '.join(f'`{c}`' for c in names)}" for status, names in codes.items())
    return {
        "description": f"{description} By status, the codes it may carry: {listing}.",
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def document_problems(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the ``Problem`` schema and every operation's error responses."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    codes = problem_codes_by_status()
    client_errors = _response("The request was refused.", {s: c for s, c in codes.items() if 400 <= s < 500})
    server_errors = _response("The server or a provider failed.", {s: c for s, c in codes.items() if s >= 500})
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            operation["responses"].setdefault("4XX", client_errors)
            operation["responses"].setdefault("5XX", server_errors)
    return result


class IpAddressFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "rest_framework.fields.IPAddressField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
