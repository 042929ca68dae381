"""The approver web app in a real headless Chromium with a virtual platform authenticator (CDP WebAuthn).

Every flow starts from the activation link, as a user would, and ends with what the relying service sees.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from approvals.relying_client import RelyingClient
from tests.e2e.a11y import accessibility_problems
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e


def enrol(approver_server: Any, phone: Any, name: str, **seed: Any) -> tuple[dict[str, str], RelyingClient]:
    """Open the activation link, register the platform credential, end on the live home view."""
    seeded = approver_server.seed(name, **seed)
    page = phone.page
    page.goto(f"{approver_server.url}/approver/#activate={seeded['code']}")
    page.wait_for_selector("#view-activate:not([hidden])")
    assert page.input_value("#activation-code") == seeded["code"]
    assert accessibility_problems(page) == []
    page.fill("#device-name", f"{name} phone")
    page.click("#activate-button")
    page.wait_for_selector("body[data-view=home]")
    page.wait_for_selector("body[data-live=live]")  # the device WebSocket, authenticated by the session cookie
    assert len(phone.credentials()) == 1
    assert page.evaluate("document.activeElement.id") == "home-title"  # focus follows the view for screen readers
    assert accessibility_problems(page) == []
    return seeded, RelyingClient(approver_server.api_url, seeded["ikey"], seeded["skey"], timeout=20)


def login(relying: RelyingClient) -> dict[str, Any]:
    return relying.auth("alice", context={"ip": "203.0.113.7", "display_text": "Webmail sign-in"})


def wait_for_request(page: Any, txid: str) -> None:
    """The request arrives live over the WebSocket and opens by itself."""
    page.wait_for_selector("body[data-view=approval]")
    page.wait_for_function("id => document.getElementById('a-application').textContent === 'Webmail'", arg=txid)
    assert page.evaluate("document.activeElement.id") == "match-number"
    assert accessibility_problems(page) == []


def sign_count(approver_server: Any, tenant: str) -> int:
    rows = approver_server.query(
        "SELECT c.sign_count FROM devices_webauthncredential c JOIN devices_device d ON d.id = c.device_id "
        "JOIN tenants_subscriber s ON s.id = d.subscriber_id JOIN tenants_tenant t ON t.id = s.tenant_id "
        "WHERE t.slug = ?",
        tenant,
    )
    assert len(rows) == 1, rows
    return rows[0][0]


def api_from_page(page: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST from inside the page (same origin, session cookie, CSRF token), like the app's own api.js."""
    return page.evaluate(
        """async ([path, body]) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch('/approver/api/' + path, {method: 'POST', credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', 'X-CSRFToken': token}, body: JSON.stringify(body)});
            return {status: r.status, body: await r.json()};
        }""",
        [path, body],
    )


def test_browser__enrol_then_approve_with_fingerprint__relying_service_allowed(approver_server, phone):
    seeded, relying = enrol(approver_server, phone, "approve")
    registered_count = sign_count(approver_server, seeded["tenant"])
    page = phone.page
    created = login(relying)
    wait_for_request(page, created["txid"])
    assert page.text_content("#a-location").startswith("203.0.113.7")
    assert page.text_content("#a-display") == "Webmail sign-in"

    page.fill("#match-number", created["number"])
    page.click("#approve-button")
    page.wait_for_selector("#approval-result[data-status=approved]")

    assert relying.status(created["txid"])["result"] == "allow"
    assert sign_count(approver_server, seeded["tenant"]) > registered_count
    again = api_from_page(page, f"approvals/{created['txid']}/decision", {"decision": "deny"})
    assert again["status"] == 409
    assert again["body"]["code"] == "approval_already_decided"
    assert phone.csp_violations() == []


def test_browser__fingerprint_not_verified__approval_refused(approver_server, phone):
    _, relying = enrol(approver_server, phone, "nouv")
    page = phone.page
    created = login(relying)
    wait_for_request(page, created["txid"])
    phone.set_user_verified(False)

    # The browser itself refuses a UV-required assertion when the fingerprint check fails.
    page.fill("#match-number", created["number"])
    page.click("#approve-button")
    page.wait_for_selector("#alert:not([hidden])")
    assert page.get_attribute("#alert", "data-code") == "NotAllowedError"
    assert relying.status(created["txid"])["result"] == "waiting"

    # And the server refuses an assertion without the UV flag even if a page asks the authenticator not to check.
    outcome = page.evaluate(
        """async ([txid, number]) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const post = async (path, body) => {
                const r = await fetch('/approver/api/' + path, {method: 'POST', credentials: 'same-origin',
                    headers: {'Content-Type': 'application/json', 'X-CSRFToken': token}, body: JSON.stringify(body)});
                return {status: r.status, body: await r.json()};
            };
            const options = await post(`approvals/${txid}/options`, {decision: 'approve'});
            const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(
                {...options.body.publicKey, userVerification: 'discouraged'});
            const credential = await navigator.credentials.get({publicKey});
            return post(`approvals/${txid}/decision`, {decision: 'approve', number, credential: credential.toJSON()});
        }""",
        [created["txid"], created["number"]],
    )
    assert outcome["status"] == 400, outcome
    assert outcome["body"]["code"] == "webauthn_verification_failed"
    assert relying.status(created["txid"])["result"] == "waiting"
    status = approver_server.query(
        "SELECT status FROM approvals_approvalrequest WHERE id = ?", created["txid"].replace("-", "")
    )
    assert status == [("pending",)]


def test_browser__wrong_number__denied(approver_server, phone):
    page = phone.page
    frames: list[str] = []  # what the page's WebSocket received
    page.on("websocket", lambda socket: socket.on("framereceived", lambda payload: frames.append(str(payload))))
    _, relying = enrol(approver_server, phone, "wrongnum")
    # The network drops: the page says so, and Refresh explains why it cannot check.
    page.context.set_offline(True)
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('No connection')")
    page.click("#refresh-button")
    page.wait_for_selector("#alert[data-code=network_error]:not([hidden])")
    page.context.set_offline(False)
    page.wait_for_function("() => document.getElementById('status').textContent === 'Back online.'")
    created = login(relying)
    wait_for_request(page, created["txid"])
    wrong = "".join(str((int(d) + 1) % 10) for d in created["number"])
    # The wrong number ends the request at once, so the live "denied" update can reach the page before
    # the decision's own answer: hold that answer back until it has, as a slow network would.
    held: list[tuple[Any, Any]] = []
    page.route("**/decision", lambda route: held.append((route, route.fetch())))
    reopened: list[str] = []
    page.route(f"**/approvals/{created['txid']}", lambda route: (reopened.append(route.request.url), route.continue_()))
    page.fill("#match-number", wrong)
    # The same request opened again while on screen (its link followed again, or announced twice on a
    # reconnect) keeps what the user typed: nothing is fetched, nothing reset.
    page.evaluate("id => { window.location.hash = 'approval=' + id; }", created["txid"])
    page.click("#approve-button")
    for _ in range(300):  # up to 15 s; each wait lets Playwright deliver the route and the frames
        if held and any('"approval.updated"' in frame for frame in frames):
            break
        page.wait_for_timeout(50)
    else:
        pytest.fail(f"the live update never reached the page: held {len(held)}, frames {frames}")
    page.wait_for_timeout(200)  # time for the page to handle that frame
    assert page.is_hidden("#approval-result")  # the page waits for its own decision's answer
    route, answer = held[0]
    route.fulfill(response=answer)
    page.wait_for_selector("#approval-result[data-status=denied]")
    assert "did not match" in page.text_content("#approval-result")
    assert reopened == []
    page.unroute("**/decision")
    status = relying.status(created["txid"])
    assert status["result"] == "deny"


def test_browser__decision_never_answered__page_gives_up_and_the_user_tries_again(approver_server, phone):
    page = phone.page
    _, relying = enrol(approver_server, phone, "swallowed")
    created = login(relying)
    wait_for_request(page, created["txid"])
    page.evaluate("document.querySelector('meta[name=\"api-timeout-ms\"]').content = '1000'")  # 20 s by default
    swallowed: list[Any] = []
    # The network swallows the decision: no answer ever comes.
    page.route("**/decision", lambda route: swallowed.append(route))
    page.click("#deny-button")
    page.wait_for_selector("#alert[data-code=network_timeout]:not([hidden])")
    assert "did not answer in time" in page.text_content("#alert")
    assert len(swallowed) == 1
    assert page.is_enabled("#deny-button")
    assert page.is_hidden("#approval-result")
    assert relying.status(created["txid"])["result"] == "waiting"  # nothing reached the server
    page.unroute("**/decision")
    page.click("#deny-button")
    page.wait_for_selector("#approval-result[data-status=denied]")
    assert relying.status(created["txid"])["result"] == "deny"


def test_browser__this_was_not_me__fraud_recorded(approver_server, phone):
    _, relying = enrol(approver_server, phone, "fraud")
    page = phone.page
    created = login(relying)
    wait_for_request(page, created["txid"])
    page.click("#fraud-button")
    page.wait_for_selector("#approval-result[data-status=fraud]")
    assert relying.status(created["txid"])["result"] == "deny"
    txid_hex = created["txid"].replace("-", "")
    assert approver_server.query("SELECT status FROM approvals_approvalrequest WHERE id = ?", txid_hex) == [("fraud",)]
    events = approver_server.query("SELECT kind FROM audit_auditevent WHERE approval_id = ?", txid_hex)
    assert ("approval.fraud",) in events, events

    # Manage the phone: recent requests show the report, rename, then remove it (fresh fingerprint check).
    page.click("#back-button")
    page.click("#device-button")
    page.wait_for_selector("#history-list li")
    assert "fraud (this phone)" in page.text_content("#history-list")
    page.fill("#rename-input", "Work phone")
    page.click("#rename-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('Work phone')")
    assert accessibility_problems(page) == []
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#remove-button")
    page.wait_for_selector("body[data-view=removed]")
    rows = approver_server.query(
        "SELECT d.name, d.status FROM devices_device d JOIN tenants_subscriber s ON s.id = d.subscriber_id "
        "JOIN tenants_tenant t ON t.id = s.tenant_id WHERE t.slug = 'fraud'"
    )
    assert rows == [("Work phone", "revoked")]
    assert phone.csp_violations() == []


def test_browser__push_reaches_service_worker__notification_opens_the_request(approver_server, phone):
    """The service worker's push handler (CDP delivers a push without a push service; experimental API)."""
    _, relying = enrol(approver_server, phone, "swpush")
    page = phone.page
    page.context.grant_permissions(["notifications"], origin=approver_server.url)
    # Wait for "activated" (not just "activating"): the worker caches the app shell while it installs.
    worker_state = page.evaluate(
        """() => navigator.serviceWorker.ready.then(r => new Promise(done => {
            const worker = r.active;
            if (worker.state === "activated") return done(worker.state);
            worker.addEventListener("statechange", () => worker.state === "activated" && done(worker.state));
        }))"""
    )
    assert worker_state == "activated"  # registered by the page at /approver/sw.js
    registrations: list[str] = []
    phone.cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(
            r["registrationId"] for r in event["registrations"] if not r.get("isDeleted")
        ),
    )
    phone.cdp.send("ServiceWorker.enable")  # reports the existing registrations to the listener above
    wait_until(lambda: registrations or page.wait_for_timeout(100), timeout=5)
    created = login(relying)
    push = {
        "origin": approver_server.url,
        "registrationId": registrations[-1],
        "data": json.dumps({"approval_id": created["txid"]}),
    }

    def shown() -> list:
        # CDP's push delivery is experimental and may be dropped under load: deliver again until shown
        # (the notification's tag makes a repeat replace, not add).
        phone.cdp.send("ServiceWorker.deliverPushMessage", push)
        page.wait_for_timeout(300)
        return page.evaluate(
            """() => navigator.serviceWorker.ready.then(r => r.getNotifications()).then(
                list => list.map(n => ({tag: n.tag, url: n.data.url, body: n.body})))"""
        )

    notifications = wait_until(shown, timeout=15, interval=0.5)
    assert notifications == [
        {
            "tag": f"approval-{created['txid']}",
            "url": f"/approver/#approval={created['txid']}",
            "body": "Someone is signing in with your account. Tap to review.",
        }
    ]


def test_browser__approval_expires__clear_message_and_refused(approver_server, phone):
    _, relying = enrol(approver_server, phone, "expiry", timeout=3)
    page = phone.page
    created = login(relying)
    # Only that it opened: within 3 s the page may already show the expiry (focus and a11y are checked elsewhere).
    page.wait_for_selector("body[data-view=approval]")
    page.wait_for_selector("#approval-result[data-status=timeout]", timeout=10_000)
    assert "expired" in page.text_content("#approval-result")
    assert page.is_hidden("#approve-button")
    late = api_from_page(page, f"approvals/{created['txid']}/decision", {"decision": "deny"})
    assert late["status"] == 409
    assert late["body"]["code"] == "approval_expired"
    assert relying.status(created["txid"])["result"] == "deny"


def test_browser__rebranded_in_admin__page_and_manifest_follow_without_rebuild(approver_server, phone):
    page = phone.page
    approver_server.seed("brand", brand_name="Acme Secure", brand_primary_color="#7c2d12", app_name="Acme Sign-in")
    page.goto(f"{approver_server.url}/approver/?tenant=brand")
    page.wait_for_selector("#view-activate:not([hidden])")
    assert page.text_content("#brand-name") == "Acme Secure"
    header = page.evaluate("getComputedStyle(document.querySelector('.app-header')).backgroundColor")
    assert header == "rgb(124, 45, 18)"
    manifest = page.evaluate("fetch(document.getElementById('manifest-link').href).then(r => r.json())")
    assert (manifest["name"], manifest["theme_color"], manifest["scope"]) == ("Acme Sign-in", "#7c2d12", "/approver/")
    assert accessibility_problems(page) == []

    # The operator changes the colour (as in Django admin): a reload shows it, nothing is rebuilt.
    approver_server.seed("brand", brand_primary_color="#fde047")
    page.reload()
    page.wait_for_selector("#view-activate:not([hidden])")
    header = page.evaluate("getComputedStyle(document.querySelector('.app-header')).backgroundColor")
    assert header == "rgb(253, 224, 71)"
    assert accessibility_problems(page) == []  # text on the light colour switched to dark for contrast
    assert phone.csp_violations() == []
