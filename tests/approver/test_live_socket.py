"""The device WebSocket for browsers: the approver's session cookie authenticates it, from our origin only."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from mfa_server.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def socket(cookie: str | None, origin: str = "http://localhost:8000", host: str = "localhost:8000"):
    headers = [(b"origin", origin.encode()), (b"host", host.encode())]
    if cookie is not None:
        headers.append((b"cookie", f"mfa_approver={cookie}; csrftoken=abc".encode()))
    return WebsocketCommunicator(application, "/ws/device", headers=headers)


def session_cookie(browser) -> str:
    return browser.client.cookies["mfa_approver"].value


async def test_browser_socket__session_cookie_same_origin__receives_login_ids(enrolled, relying):
    ws = socket(session_cookie(enrolled))
    ok, _ = await ws.connect(timeout=3)
    assert ok
    try:
        created = (await sync_to_async(relying.auth)("alice")).json()
        assert await ws.receive_json_from(timeout=3) == {"type": "approval.request", "approval_id": created["txid"]}
        await sync_to_async(enrolled.decide)(created["txid"], "deny", with_assertion=False)
        update = await ws.receive_json_from(timeout=3)
        assert update == {"type": "approval.updated", "approval_id": created["txid"], "status": "denied"}
    finally:
        await ws.disconnect()


@pytest.mark.parametrize(
    ("origin", "host"),
    [("http://evil.example", "localhost:8000"), ("null", "localhost:8000"), ("", "localhost:8000")],
)
async def test_browser_socket__cookie_from_foreign_origin__closed_4401(enrolled, origin, host):
    ok, code = await socket(session_cookie(enrolled), origin=origin, host=host).connect(timeout=3)
    assert (ok, code) == (False, 4401)


async def test_browser_socket__configured_webauthn_origin__accepted_behind_proxy(enrolled, settings):
    settings.MFA_WEBAUTHN_ORIGINS = ["https://mfa.example"]
    ws = socket(session_cookie(enrolled), origin="https://mfa.example", host="10.0.0.5:8000")
    ok, _ = await ws.connect(timeout=3)
    assert ok
    await ws.disconnect()


@pytest.mark.parametrize("cookie", [None, "", "not-a-device-token"])
async def test_browser_socket__missing_or_unknown_cookie__closed_4401(db, cookie):
    ok, code = await socket(cookie).connect(timeout=3)
    assert (ok, code) == (False, 4401)


async def test_browser_socket__revoked_device_cookie__closed_4401(enrolled):
    cookie = session_cookie(enrolled)
    assert (await sync_to_async(enrolled.remove)()).status_code == 204
    ok, code = await socket(cookie).connect(timeout=3)
    assert (ok, code) == (False, 4401)
