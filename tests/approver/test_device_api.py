"""Device management in the approver web app: rename, recent approvals, remove, Web Push subscription."""

from __future__ import annotations

from datetime import timedelta

import pytest

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from devices.models import Device
from policies.models import Policy

SUBSCRIPTION = {
    "endpoint": "https://push.example.net/send/abc",
    "keys": {"p256dh": "B" + "A" * 86, "auth": "A" * 22},
}


def device_of(browser) -> Device:
    return Device.objects.get(pk=browser.call("GET", "me").json()["device_id"])


def test_session_used__last_seen_moves_on_at_most_once_a_minute(enrolled):
    device = device_of(enrolled)
    an_hour_ago = device.last_seen_at - timedelta(hours=1)
    Device.objects.filter(pk=device.pk).update(last_seen_at=an_hour_ago)

    enrolled.call("GET", "me")
    seen = Device.objects.get(pk=device.pk).last_seen_at
    assert seen > an_hour_ago + timedelta(minutes=59)
    enrolled.call("GET", "me")
    assert Device.objects.get(pk=device.pk).last_seen_at == seen  # within the minute: no new write


def test_rename__new_name_stored_and_audited(enrolled):
    response = enrolled.call("PATCH", "me", {"name": "Work phone"})
    assert response.status_code == 200
    assert response.json()["name"] == "Work phone"
    device = device_of(enrolled)
    assert device.name == "Work phone"
    assert AuditEvent.objects.filter(kind="device.renamed", device_id=device.pk).exists()


def test_rename__empty_name__400_nothing_changed(enrolled):
    response = enrolled.call("PATCH", "me", {"name": ""})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert device_of(enrolled).name == "Alice's phone"


def test_history__recent_requests_with_who_decided(enrolled, relying):
    first = relying.auth("alice").json()
    second = relying.auth("alice", display_text="second login")  # another body: not a replay of the first
    assert second.status_code == 201, second.json()
    enrolled.decide(first["txid"], "deny", with_assertion=False)
    response = enrolled.call("GET", "history")
    assert response.status_code == 200
    rows = {row["approval_id"]: row for row in response.json()}
    assert len(rows) == 2
    assert rows[first["txid"]]["status"] == "denied"
    assert rows[first["txid"]]["decided_here"] is True


def test_remove__device_revoked_session_ended(enrolled, relying, settings):
    device = device_of(enrolled)
    response = enrolled.remove()
    assert response.status_code == 204
    assert response.cookies[settings.MFA_APPROVER_COOKIE_NAME].value == ""
    device.refresh_from_db()
    assert device.status == Device.Status.REVOKED
    assert device.revoked_at is not None
    assert AuditEvent.objects.filter(kind="device.revoked", device_id=device.pk, actor=f"device:{device.pk}").exists()
    # Even a stale copy of the cookie no longer works.
    enrolled.client.cookies[settings.MFA_APPROVER_COOKIE_NAME] = "x"
    assert enrolled.call("GET", "me").status_code == 401


def test_remove__stale_cookie_of_revoked_device__device_revoked(enrolled, settings):
    token = enrolled.client.cookies[settings.MFA_APPROVER_COOKIE_NAME].value
    assert enrolled.remove().status_code == 204
    enrolled.client.cookies[settings.MFA_APPROVER_COOKIE_NAME] = token
    response = enrolled.call("GET", "approvals")
    assert response.status_code == 401
    assert response.json()["code"] == "device_revoked"


def test_push_subscription__stored_then_dropped(enrolled):
    response = enrolled.call("PUT", "push-subscription", SUBSCRIPTION)
    assert response.status_code == 200
    assert response.json()["push_subscribed"] is True
    assert device_of(enrolled).webpush_subscription == SUBSCRIPTION
    response = enrolled.call("DELETE", "push-subscription")
    assert response.status_code == 200
    assert device_of(enrolled).webpush_subscription == {}


def test_push_subscription__plain_http_endpoint__refused(enrolled):
    bad = {**SUBSCRIPTION, "endpoint": "http://push.example.net/x"}
    response = enrolled.call("PUT", "push-subscription", bad)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert device_of(enrolled).webpush_subscription == {}


@pytest.mark.parametrize(
    "endpoint",
    ["https://169.254.169.254/latest/meta-data", "https://intranet.example.org/hook", "https://evilpush.example.net/x"],
)
def test_push_subscription__endpoint_not_a_known_push_service__refused(enrolled, endpoint):
    """The server POSTs to the endpoint, so it must not be able to point at internal hosts."""
    response = enrolled.call("PUT", "push-subscription", {**SUBSCRIPTION, "endpoint": endpoint})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert "endpoint" in response.json()["fields"]
    assert device_of(enrolled).webpush_subscription == {}


def test_push_subscription__malformed_keys__refused(enrolled):
    bad = {**SUBSCRIPTION, "keys": {"p256dh": "short", "auth": "<script>"}}
    response = enrolled.call("PUT", "push-subscription", bad)
    assert response.status_code == 400
    assert set(response.json()["fields"]["keys"]) == {"p256dh", "auth"}


def test_device_api__no_session__401_everywhere(browser):
    for method, path in [
        ("GET", "approvals"),
        ("GET", "history"),
        ("PATCH", "me"),
        ("DELETE", "me"),
        ("POST", "me/options"),
    ]:
        response = browser.call(method, path, {"name": "x"} if method == "PATCH" else None)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "not_authenticated"


def test_device_session__tenant_policy_requires_client_certificate__refused(enrolled, tenant, relying):
    login = relying.auth("alice").json()
    Policy.objects.create(tenant=tenant, client_cert_required=True)
    response = enrolled.call("GET", "approvals")
    assert response.status_code == 403
    assert response.json()["code"] == "policy_denied"
    response = enrolled.decide(login["txid"], "deny", with_assertion=False)
    assert response.status_code == 403
    assert response.json()["code"] == "policy_denied"
    assert ApprovalRequest.objects.get(pk=login["txid"]).status == "pending"


def test_remove__without_fresh_assertion__refused_device_kept(enrolled):
    response = enrolled.remove(with_assertion=False)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    enrolled.authenticator.user_verified = False
    response = enrolled.remove()
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_verification_failed"
    device = device_of(enrolled)
    assert device.status == Device.Status.ACTIVE
    assert AuditEvent.objects.filter(kind="device.remove_refused", device_id=device.pk).exists()


def test_remove__assertion_made_for_an_approval__cannot_remove(enrolled, relying):
    login = relying.auth("alice").json()
    credential = enrolled.assertion(login["txid"], "approve")
    response = enrolled.call("DELETE", "me", {"credential": credential})
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_challenge_invalid"
    assert device_of(enrolled).status == Device.Status.ACTIVE
