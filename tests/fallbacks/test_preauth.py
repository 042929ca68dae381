"""preauth lists only the factors the policy allows, in its order, that the subscriber can use."""

from __future__ import annotations

import pytest

from fallbacks.services import bypass_codes_issue
from policies.models import Policy

pytestmark = pytest.mark.django_db


def preauth(relying, username: str = "alice"):
    response = relying.request("POST", "/api/v1/preauth", body={"username": username})
    assert response.status_code == 200, response.json()
    return response.json()


def test_preauth__device_only__push_and_session_code(relying, phone):
    body = preauth(relying)
    assert body["result"] == "auth"
    assert body["factors"] == ["push", "session_code"]
    assert body["devices"][0]["capabilities"] == ["push", "session_code"]


def test_preauth__with_passcode_secret_and_number__all_default_factors(relying, passcode_phone, alice_phone_number):
    body = preauth(relying)
    assert body["factors"] == ["push", "passcode", "session_code", "sms"]
    assert body["devices"][0]["capabilities"] == ["push", "passcode", "session_code"]


def test_preauth__biometric_only_policy__no_sms_no_codes(relying, passcode_phone, alice_phone_number, tenant):
    Policy.objects.create(tenant=tenant, factors=["push"])
    body = preauth(relying)
    assert body["factors"] == ["push"]
    assert body["devices"][0]["capabilities"] == ["push"]


def test_preauth__policy_order_is_kept(relying, passcode_phone, alice_phone_number, tenant, subscriber):
    Policy.objects.create(tenant=tenant, factors=["sms", "bypass_code", "passcode", "push"])
    bypass_codes_issue(subscriber=subscriber, actor="admin:root", count=1)
    assert preauth(relying)["factors"] == ["sms", "bypass_code", "passcode", "push"]


def test_openapi__fallback_endpoints_documented(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/auth/passcode",
        "/api/v1/auth/code",
        "/api/v1/auth/{txid}/fallback",
        "/api/v1/auth/{txid}/verify",
        "/api/v1/device/passcode-secret",
        "/api/v1/device/codes",
    ):
        assert path in paths, path
    verify = paths["/api/v1/auth/{txid}/verify"]["post"]
    ref = verify["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ApprovalStatus")
