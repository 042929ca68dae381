"""Helpers of the integration suite: raw signed relying calls, problem-details checks, a DB text dump."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from approvals.models import ApprovalRequest
from approvals.signing import authorization_header, canonical_string, sign
from audit.models import AuditEvent
from tenants.models import Subscriber
from tests.conftest import make_device
from tests.helpers import PhoneDevice

PROBLEM_JSON = "application/problem+json"


def relying_call(
    client: Client,
    *,
    ikey: str,
    skey: str,
    method: str = "GET",
    path: str = "/api/v1/check",
    params: dict[str, str] | None = None,
    body: Any = None,
    form: dict[str, str] | None = None,
    raw_body: bytes | None = None,
    version: int = 5,
    digestmod: str = "sha512",
    date: str | None = None,
    omit_date: bool = False,
    sign_path: str | None = None,
    sign_body: bytes | None = None,
    host: str = "localhost",
    sign_host: str | None = None,
    x_duo_date: bool = False,
) -> Any:
    """One relying-service request, signed the way the various Duo client generations sign.

    ``form`` sends an ``application/x-www-form-urlencoded`` body (signature v2 signs its parameters);
    ``body`` a JSON body (v4/v5 hash the raw bytes). ``sign_path`` / ``sign_body`` / ``sign_host`` sign something other
    than what is sent, to play a tampering intermediary. ``x_duo_date`` sends the date as ``X-Duo-Date``
    (as duo_hmac does), which v5 then also covers in its header hash.
    """
    params = params or {}
    if form is not None:
        raw = urlencode(form).encode()
        content_type = "application/x-www-form-urlencoded"
        signed_params = sorted(form.items()) if version == 2 else sorted(params.items())
    else:
        raw = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else b"")
        content_type = "application/json"
        signed_params = sorted(params.items())
    date = date or formatdate()
    canonical = canonical_string(
        version=version,
        date=date,
        method=method,
        host=sign_host or host,
        path=sign_path or path,
        params=signed_params,
        body=(sign_body if sign_body is not None else raw) if version >= 4 and form is None else b"",
        x_duo_headers={"X-Duo-Date": date} if x_duo_date else None,
    )
    headers = {"HTTP_AUTHORIZATION": authorization_header(ikey, sign(skey, canonical, digestmod)), "HTTP_HOST": host}
    if x_duo_date:
        headers["HTTP_X_DUO_DATE"] = date
    elif not omit_date:
        headers["HTTP_DATE"] = date
    url = path + (f"?{urlencode(params)}" if params else "")
    if method == "GET" and not raw:
        return client.get(url, **headers)
    return client.generic(method, url, raw, content_type=content_type, **headers)


def http_date(offset_seconds: float = 0) -> str:
    return formatdate(time.time() + offset_seconds)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is RFC 9457 problem details with this status and machine code."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].split(";")[0] == PROBLEM_JSON
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["type"].endswith("/" + code)
    assert body["detail"]
    return body


def row_counts() -> tuple[int, int]:
    """(approval requests, audit events): what a refused request must leave unchanged."""
    return ApprovalRequest.objects.count(), AuditEvent.objects.count()


def other_number(number: str) -> str:
    """A number of the same length that is not ``number``."""
    return str((int(number) + 1) % 10 ** len(number)).zfill(len(number))


@pytest.fixture
def no_push_fatigue(settings) -> None:
    """Turn off the policy engine's push-fatigue rules (push limit, cool-down after a denial, fraud strikes).

    They are tested in tests/policies; tests that push many times in a row to exercise the core (lockout
    after MFA_LOCKOUT_THRESHOLD, a long audit trail) would otherwise be stopped by them first.
    """
    settings.MFA_POLICY_PUSH_LIMIT = 0
    settings.MFA_POLICY_COOLDOWN_SECONDS = 0
    settings.MFA_POLICY_FRAUD_LOCKOUT_COUNT = 0


@pytest.fixture
def bob_phone(tenant) -> PhoneDevice:
    """A second subscriber of the same tenant, with a device."""
    return make_device(Subscriber.objects.create(tenant=tenant, username="bob"), name="Bob phone")
