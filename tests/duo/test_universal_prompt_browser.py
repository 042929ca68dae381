"""The Universal Prompt's browser leg in real headless Chromium (Debian's ``/usr/bin/chromium`` via Playwright).

The server certificate is trusted by SPKI pin (``--ignore-certificate-errors-spki-list``), not by disabling
checks; the relying application's callback is a tiny local HTTP server (a redirect target Playwright
routes cannot intercept).
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duo_universal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import connections

from approvals.models import ApprovalRequest
from duo.models import RedirectUri
from tests.duo.conftest import activate_device
from tests.helpers import RecordingServer, Reply

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.live,
    pytest.mark.e2e,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium (apt-get install -y chromium)"),
]


def _spki_pin(cert_path: Any) -> str:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture
def app_callback(issued_app) -> Iterator[str]:
    """The relying application's redirect URI: a local HTTP page, registered for the application."""
    page = Reply(200, b"<p id=app>callback received</p>", {"Content-Type": "text/html"})
    with RecordingServer(lambda request: page) as server:
        uri = f"http://localhost:{server.port}/duo-callback"
        RedirectUri.objects.create(application=issued_app.application, uri=uri)
        yield uri


@pytest.fixture
def chromium_page(duo_server, test_pki, monkeypatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")  # Playwright's sync API runs an event loop in this thread
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--disable-gpu", "--disable-quic", f"--ignore-certificate-errors-spki-list={_spki_pin(test_pki[1])}"],
        )
        yield browser.new_context().new_page()
        browser.close()
        # ORM calls made while Playwright's loop runs get their own connection (asgiref context): close it,
        # or PostgreSQL refuses to drop the test database at the end of the run.
        connections.close_all()


def test_browser__push_approved_on_device__redirect_with_code_and_exchange(
    chromium_page, duo_server, duo_auth, issued_app, app_callback
):
    csp_violations: list[str] = []
    chromium_page.on(
        "console", lambda msg: csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    device = activate_device(duo_server, duo_auth.enroll(username="alice")["activation_code"])
    client = duo_universal.Client(
        issued_app.application.integration_key,
        issued_app.secret_key,
        f"{duo_server.host}:{duo_server.port}",
        app_callback,
        duo_certs=str(duo_server.ca_path),
    )
    state = client.generate_state()
    chromium_page.goto(client.create_auth_url("alice", state))
    assert chromium_page.locator("#username").inner_text() == "alice"
    assert chromium_page.locator("header").inner_text() == "Acme Bank"
    header_color = chromium_page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert header_color == "rgb(29, 78, 216)"  # the tenant's brand_primary_color #1d4ed8, styled under the CSP
    chromium_page.click("#send-push")
    number = chromium_page.locator("#number").inner_text()
    assert re.fullmatch(r"\d{3}", number)

    txid = device.pending()[0]["approval_id"]
    device.decide(txid, "approve", number)
    chromium_page.wait_for_url(f"{app_callback}?**", timeout=10_000)  # meta refresh -> 302 with the code

    query = parse_qs(urlsplit(chromium_page.url).query)
    assert query["state"] == [state]
    token = client.exchange_authorization_code_for_2fa_result(query["duo_code"][0], "alice")
    assert token["preferred_username"] == "alice"
    assert token["auth_context"]["txid"] == txid
    assert ApprovalRequest.objects.get(pk=txid).status == "approved"
    assert csp_violations == []


def test_browser__push_denied__stays_on_prompt_without_code(
    chromium_page, duo_server, duo_auth, app_callback, issued_app
):
    device = activate_device(duo_server, duo_auth.enroll(username="alice")["activation_code"])
    client = duo_universal.Client(
        issued_app.application.integration_key,
        issued_app.secret_key,
        f"{duo_server.host}:{duo_server.port}",
        app_callback,
        duo_certs=str(duo_server.ca_path),
    )
    chromium_page.goto(client.create_auth_url("alice", client.generate_state()))
    chromium_page.click("#send-push")
    device.decide(device.pending()[0]["approval_id"], "deny")
    chromium_page.wait_for_selector("#failed", timeout=10_000)
    assert "denied" in chromium_page.locator("#failed").inner_text()
    assert chromium_page.url.startswith(duo_server.url)


REGISTER_PASSKEY_JS = """
async ([code, csrf]) => {
  const webauthn = await import('/static/approver/js/webauthn.js');
  const post = async (url, body) => {
    const r = await fetch(url, {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrf}, body: JSON.stringify(body)});
    return [r.status, await r.json()];
  };
  const [status, begun] = await post('/approver/api/register/options', {code});
  if (status !== 200) return [status, begun];
  const credential = await webauthn.createCredential(begun.publicKey);
  return await post('/approver/api/register', {code, credential, name: 'this laptop'});
}
"""


def test_browser__passkey_on_this_device__approves_without_phone(
    chromium_page, duo_server, duo_auth, issued_app, app_callback, tenant, settings
):
    from devices.services import enrollment_create
    from tenants.models import Subscriber

    settings.MFA_WEBAUTHN_RP_ID = "localhost"
    settings.MFA_WEBAUTHN_ORIGINS = [duo_server.url]
    cdp = chromium_page.context.new_cdp_session(chromium_page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "ctap2Version": "ctap2_1",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    phone = activate_device(duo_server, duo_auth.enroll(username="alice")["activation_code"])
    client = duo_universal.Client(
        issued_app.application.integration_key,
        issued_app.secret_key,
        f"{duo_server.host}:{duo_server.port}",
        app_callback,
        duo_certs=str(duo_server.ca_path),
    )
    chromium_page.goto(client.create_auth_url("alice", client.generate_state()))
    assert chromium_page.locator("#use-passkey").count() == 0  # no passkey yet
    # This browser enrols as an approver web-app device (the approver's own API, same origin).
    code = enrollment_create(subscriber=Subscriber.objects.get(tenant=tenant, username="alice"), created_by="t")
    csrf = chromium_page.locator("[name=csrfmiddlewaretoken]").first.input_value()
    status, body = chromium_page.evaluate(REGISTER_PASSKEY_JS, [code.activation_code, csrf])
    assert status == 201, body

    state = client.generate_state()
    chromium_page.goto(client.create_auth_url("alice", state))
    chromium_page.click("#use-passkey")
    chromium_page.wait_for_url(f"{app_callback}?**", timeout=10_000)
    query = parse_qs(urlsplit(chromium_page.url).query)
    assert query["state"] == [state]
    token = client.exchange_authorization_code_for_2fa_result(query["duo_code"][0], "alice")
    approval = ApprovalRequest.objects.get(pk=token["auth_context"]["txid"])
    assert approval.status == "approved"
    assert approval.decided_by.kind == "webauthn"
    assert phone.pending() == []  # the phone's copy of the request is gone: decided once
