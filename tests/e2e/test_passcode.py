"""The approver web app's device passcode (offline TOTP) in a real headless Chromium.

Enrol from the activation link, open the Passcode view, read the code off the page, and let the relying
service log in with it through the signed API; then the same code again, and the view with the network off.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.a11y import accessibility_problems
from tests.e2e.test_approver_browser import enrol

pytestmark = pytest.mark.e2e


def open_passcode(page: Any) -> str:
    """Open the Passcode view from the home view and return the 6 digits it shows."""
    page.click("#passcode-button")
    page.wait_for_selector("body[data-view=passcode]")
    return read_passcode(page)


def read_passcode(page: Any) -> str:
    page.wait_for_selector("#passcode-current:not([hidden])")
    page.wait_for_function("() => /^[0-9]{6}$/.test(document.getElementById('passcode-value').textContent)")
    seconds = page.text_content("#passcode-seconds")
    assert re.fullmatch(r"([1-9]|[12][0-9]|30) s", seconds or ""), seconds
    return page.text_content("#passcode-value")


def fresh_passcode(page: Any) -> str:
    """A code with a few seconds of life left, so the relying call lands in the same step."""
    page.wait_for_function("() => parseInt(document.getElementById('passcode-seconds').textContent, 10) >= 4")
    return read_passcode(page)


def passcode_login(relying: Any, code: str, note: str) -> dict[str, Any]:
    body = {"username": "alice", "passcode": code, "context": {"display_text": note}}
    return relying.request("POST", "/api/v1/auth/passcode", body=body)


def device_secret_rows(approver_server: Any, tenant: str) -> int:
    rows = approver_server.query(
        "SELECT COUNT(*) FROM fallbacks_devicetotp p JOIN devices_device d ON d.id = p.device_id "
        "JOIN tenants_subscriber s ON s.id = d.subscriber_id JOIN tenants_tenant t ON t.id = s.tenant_id "
        "WHERE t.slug = ?",
        tenant,
    )
    return rows[0][0]


def test_passcode__shown_in_app__relying_login_approved_once(approver_server, phone):
    seeded, relying = enrol(approver_server, phone, "totp")
    page = phone.page
    code = open_passcode(page)
    assert device_secret_rows(approver_server, seeded["tenant"]) == 1
    assert page.evaluate("document.activeElement.id") == "passcode-title"
    assert accessibility_problems(page) == []
    # The secret lives in IndexedDB, never in localStorage or a script-readable cookie.
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("document.cookie").find("mfa_approver") == -1
    stored = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const open = indexedDB.open('approver');
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
                const get = open.result.transaction('passcode').objectStore('passcode').get('current');
                get.onsuccess = () => resolve(get.result ? Object.keys(get.result).sort() : null);
            };
        })"""
    )
    assert stored == ["algorithm", "deviceId", "digits", "issuer", "label", "period", "secret"], stored

    code = fresh_passcode(page)
    approved = passcode_login(relying, code, "first")
    assert (approved["status"], approved["result"], approved["status_reason"]) == (
        "approved",
        "allow",
        "passcode_verified",
    )
    replayed = passcode_login(relying, code, "second")
    assert (replayed["status"], replayed["result"], replayed["status_reason"]) == ("denied", "deny", "passcode_reused")
    assert phone.csp_violations() == []


def test_passcode__offline_reload__view_still_shows_a_valid_code(approver_server, phone):
    seeded, relying = enrol(approver_server, phone, "totpoffline")
    page = phone.page
    open_passcode(page)
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()  # now controlled by the service worker: the shell is cached as it loads
    page.wait_for_selector("body[data-view=home]")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    page.context.set_offline(True)
    try:
        page.reload()
        page.wait_for_selector("body[data-view=passcode]")
        code = fresh_passcode(page)
        assert page.text_content("#status") == "You are offline. Your passcode still works."
        assert page.is_hidden("#passcode-back-button")
    finally:
        page.context.set_offline(False)
    approved = passcode_login(relying, code, "offline code")
    assert (approved["status"], approved["status_reason"]) == ("approved", "passcode_verified")
    assert device_secret_rows(approver_server, seeded["tenant"]) == 1
    assert phone.csp_violations() == []


def test_passcode__browser_lost_its_copy__set_up_again_with_fingerprint(approver_server, phone):
    seeded, relying = enrol(approver_server, phone, "totpagain")
    page = phone.page
    old = fresh_passcode_after_open(page)
    page.evaluate("() => new Promise((resolve) => { indexedDB.deleteDatabase('approver').onsuccess = resolve; })")
    page.reload()
    page.wait_for_selector("body[data-view=home]")
    page.click("#passcode-button")
    page.wait_for_selector("#passcode-missing:not([hidden])")  # the server hands the secret out only once
    assert accessibility_problems(page) == []

    page.click("#passcode-setup-button")  # a fresh fingerprint check (virtual authenticator, UV on)
    new = fresh_passcode(page)
    assert device_secret_rows(approver_server, seeded["tenant"]) == 1
    approved = passcode_login(relying, new, "new secret")
    assert (approved["status"], approved["status_reason"]) == ("approved", "passcode_verified")
    if old != new:  # the old secret is gone (a collision of two 6-digit codes would prove nothing)
        refused = passcode_login(relying, old, "old secret")
        assert refused["status"] == "denied"
    kinds = approver_server.query(
        "SELECT kind FROM audit_auditevent WHERE kind LIKE 'passcode_secret.%' ORDER BY id DESC LIMIT 3"
    )
    assert [k for (k,) in kinds] == [
        "passcode_secret.provisioned",
        "passcode_secret.reset",
        "passcode_secret.provision_refused",
    ]
    assert phone.csp_violations() == []


def fresh_passcode_after_open(page: Any) -> str:
    open_passcode(page)
    return fresh_passcode(page)
