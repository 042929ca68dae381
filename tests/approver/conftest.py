"""Fixtures for the approver web app: a browser-like client (cookies + CSRF) holding a software authenticator."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from devices.services import enrollment_create
from tests.authenticator import SoftAuthenticator

ORIGIN = "http://localhost"


@pytest.fixture(autouse=True)
def _webauthn_settings(settings):
    settings.MFA_WEBAUTHN_RP_ID = "localhost"
    settings.MFA_WEBAUTHN_ORIGINS = [ORIGIN]
    settings.MFA_WEBAUTHN_ATTESTATION = "none"


@dataclass
class Browser:
    """The approver page as a browser drives it: same-origin JSON calls with the CSRF token of the shell."""

    client: Client = field(default_factory=lambda: Client(enforce_csrf_checks=True, HTTP_HOST="localhost"))
    authenticator: SoftAuthenticator = field(default_factory=lambda: SoftAuthenticator(origin=ORIGIN))
    csrf: str = ""

    def open_shell(self) -> Any:
        response = self.client.get("/approver/")
        match = re.search(r'<meta name="csrf-token" content="([^"]+)">', response.content.decode())
        assert match, "the shell carries the CSRF token"
        self.csrf = match.group(1)
        return response

    def call(self, method: str, path: str, body: Any = None, *, csrf: bool = True) -> Any:
        if not self.csrf:
            self.open_shell()
        headers = {"HTTP_X_CSRFTOKEN": self.csrf} if csrf else {}
        headers["HTTP_ORIGIN"] = ORIGIN
        return self.client.generic(
            method, f"/approver/api/{path}", b"" if body is None else json.dumps(body),
            content_type="application/json", **headers,
        )  # fmt: skip

    def register(self, code: str, name: str = "Alice's phone") -> Any:
        options = self.call("POST", "register/options", {"code": code})
        assert options.status_code == 200, options.json()
        credential = self.authenticator.create(options.json()["publicKey"])
        return self.call("POST", "register", {"code": code, "name": name, "credential": credential})

    def assertion(self, approval_id: str, decision: str = "approve") -> dict[str, Any]:
        options = self.call("POST", f"approvals/{approval_id}/options", {"decision": decision})
        assert options.status_code == 200, options.json()
        return self.authenticator.get(options.json()["publicKey"])

    def remove(self, *, with_assertion: bool = True) -> Any:
        """Remove this phone, confirming with a fresh assertion as the page does."""
        body: dict[str, Any] = {}
        if with_assertion:
            options = self.call("POST", "me/options", {})
            assert options.status_code == 200, options.json()
            body["credential"] = self.authenticator.get(options.json()["publicKey"])
        return self.call("DELETE", "me", body)

    def decide(self, approval_id: str, decision: str, number: str = "", *, with_assertion: bool = True) -> Any:
        body: dict[str, Any] = {"decision": decision, "number": number}
        if with_assertion:
            body["credential"] = self.assertion(approval_id, decision)
        return self.call("POST", f"approvals/{approval_id}/decision", body)


@pytest.fixture
def activation_code(subscriber) -> str:
    return enrollment_create(subscriber=subscriber, created_by="test").activation_code


@pytest.fixture
def browser() -> Browser:
    return Browser()


@pytest.fixture
def enrolled(browser, activation_code) -> Browser:
    """A browser whose phone finished WebAuthn registration (it holds the device session cookie)."""
    response = browser.register(activation_code)
    assert response.status_code == 201, response.json()
    return browser
