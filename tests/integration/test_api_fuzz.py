"""Generated requests against every operation of the served OpenAPI document (schemathesis, through the
production WSGI entry): whatever the input, never a 500, and every answer is what the document says
(status codes, media types, bodies; failures as problem details).

Relying calls are signed and device calls carry a device token, so the generated input reaches the
views, not only the authentication.
"""

from __future__ import annotations

import json
from email.utils import formatdate
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from approvals.signing import authorization_header, canonical_string, sign
from mfa_server.wsgi import application

pytestmark = pytest.mark.usefixtures("wsgi_calls_keep_test_connection")
HOST = "localhost"  # schemathesis' WSGI requests go to http://localhost
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", application)  # the schema needs no database


def _body_bytes(case: Any) -> bytes:
    """The body as schemathesis' WSGI transport sends it (``json.dumps``, like werkzeug's test client)."""
    if isinstance(case.body, dict | list | str | int | float):  # not "no body", not raw bytes
        return json.dumps(case.body).encode()
    return b""


def _signature_headers(case: Any, ikey: str, skey: str) -> dict[str, str]:
    date = formatdate()
    params = sorted((str(k), str(v)) for k, v in (case.query or {}).items())
    canonical = canonical_string(
        version=5,
        date=date,
        method=case.method.upper(),
        host=HOST,
        path=case.formatted_path,
        params=params,
        body=_body_bytes(case),
    )
    return {"Date": date, "Authorization": authorization_header(ikey, sign(skey, canonical))}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests__never_a_server_error__answers_as_documented(case, issued_app, phone):
    if case.formatted_path.startswith("/api/v1/device/"):
        headers = {"Authorization": f"Device {phone.token}"}
    else:
        headers = _signature_headers(case, issued_app.application.integration_key, issued_app.secret_key)
    case.call_and_validate(headers=headers, checks=CHECKS)
