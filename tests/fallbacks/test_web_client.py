"""The approver web client reads session codes with its session cookie (no token in script)."""

from __future__ import annotations

import pytest

from tests.approver.conftest import Browser, _webauthn_settings, activation_code, browser, enrolled  # noqa: F401
from tests.fallbacks.helpers import fallback, start_push, verify

pytestmark = pytest.mark.django_db


def test_web_client__session_code_with_cookie__accepted_by_relying(relying, enrolled: Browser):  # noqa: F811
    assert enrolled.client.get("/api/v1/device/codes").json() == []
    txid = start_push(relying)
    assert fallback(relying, txid, "session_code").status_code == 200
    response = enrolled.client.get("/api/v1/device/codes")
    assert response.status_code == 200, response.json()
    (entry,) = response.json()
    assert entry["approval_id"] == txid
    assert verify(relying, txid, entry["code"]).json()["status"] == "approved"


def test_web_client__no_cookie_no_token__401_without_basic_challenge(client):
    response = client.get("/api/v1/device/codes")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Device realm="mfa"'


def test_web_client__shell_has_codes_list_and_worker_caches_module(enrolled: Browser):  # noqa: F811
    page = enrolled.client.get("/approver/").content.decode()
    assert 'id="codes-list"' in page
    worker = enrolled.client.get("/approver/sw.js").content.decode()
    assert "/static/approver/js/codes.js" in worker
