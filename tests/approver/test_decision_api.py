"""Deciding from the approver web app: WebAuthn-asserted approve, one-tap deny / fraud, number matching."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from devices.models import WebAuthnChallenge, WebAuthnCredential
from tenants.models import Subscriber


@pytest.fixture
def login(relying, enrolled):
    """A pending login of alice, created by the relying service (number matching on)."""
    response = relying.auth("alice", ip="203.0.113.7", display_text="Webmail login")
    assert response.status_code == 201, response.json()
    return response.json()


def sign_count(browser) -> int:
    return WebAuthnCredential.objects.get(credential_id=browser.authenticator.credential_id_b64).sign_count


def test_pending__lists_login_with_context_but_never_the_number(enrolled, login):
    response = enrolled.call("GET", "approvals")
    assert response.status_code == 200
    (item,) = response.json()
    assert item["approval_id"] == login["txid"]
    assert item["application"] == "Webmail"
    assert item["ip"] == "203.0.113.7"
    assert item["number_digits"] == len(login["number"])
    assert "number" not in item
    assert login["number"] not in [str(value) for value in item.values()]


def test_approve__uv_assertion_and_right_number__allowed_sign_count_advanced(enrolled, login, relying):
    before = sign_count(enrolled)
    response = enrolled.decide(login["txid"], "approve", login["number"])
    assert response.status_code == 200, response.json()
    assert response.json() == {"approval_id": login["txid"], "status": "approved", "result": "allow"}
    assert sign_count(enrolled) == before + 1
    assert relying.status(login["txid"]).json()["result"] == "allow"
    assert AuditEvent.objects.filter(kind="approval.approved", approval_id=login["txid"]).exists()
    again = enrolled.decide(login["txid"], "approve", login["number"])
    assert again.status_code == 409
    assert again.json()["code"] == "approval_already_decided"


def test_approve__user_not_verified__refused_still_pending(enrolled, login):
    enrolled.authenticator.user_verified = False
    response = enrolled.decide(login["txid"], "approve", login["number"])
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "webauthn_verification_failed"
    assert ApprovalRequest.objects.get(pk=login["txid"]).status == "pending"
    assert sign_count(enrolled) == 0
    refused = AuditEvent.objects.get(kind="approval.decision_refused", approval_id=login["txid"])
    assert refused.detail["reason"] == "webauthn_verification_failed"


def test_approve__without_assertion__refused(enrolled, login):
    response = enrolled.decide(login["txid"], "approve", login["number"], with_assertion=False)
    assert response.status_code == 403
    assert response.json()["code"] == "webauthn_required"
    assert ApprovalRequest.objects.get(pk=login["txid"]).status == "pending"


def test_approve__wrong_number__denied_and_counted(enrolled, login, relying, subscriber):
    wrong = "".join(str((int(d) + 1) % 10) for d in login["number"])
    response = enrolled.decide(login["txid"], "approve", wrong)
    assert response.status_code == 400
    assert response.json()["code"] == "number_mismatch"
    approval = ApprovalRequest.objects.get(pk=login["txid"])
    assert (approval.status, approval.status_reason) == ("denied", "number_mismatch")
    assert Subscriber.objects.get(pk=subscriber.pk).failed_attempts == 1
    assert relying.status(login["txid"]).json()["result"] == "deny"


def test_approve__assertion_replayed__refused(enrolled, login):
    credential = enrolled.assertion(login["txid"], "approve")
    body = {"decision": "approve", "number": "000", "credential": credential}
    first = enrolled.call("POST", f"approvals/{login['txid']}/decision", body | {"number": login["number"]})
    assert first.status_code == 200
    replay = enrolled.call("POST", f"approvals/{login['txid']}/decision", body | {"number": login["number"]})
    assert replay.status_code == 400
    assert replay.json()["code"] == "webauthn_challenge_invalid"


def test_approve__challenge_issued_for_deny__cannot_approve(enrolled, login):
    credential = enrolled.assertion(login["txid"], "deny")
    body = {"decision": "approve", "number": login["number"], "credential": credential}
    response = enrolled.call("POST", f"approvals/{login['txid']}/decision", body)
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_challenge_invalid"
    assert ApprovalRequest.objects.get(pk=login["txid"]).status == "pending"


def test_approve__challenge_of_another_transaction__refused(enrolled, login, relying):
    other = relying.auth("alice").json()
    credential = enrolled.assertion(other["txid"], "approve")
    body = {"decision": "approve", "number": login["number"], "credential": credential}
    response = enrolled.call("POST", f"approvals/{login['txid']}/decision", body)
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_challenge_invalid"
    assert ApprovalRequest.objects.filter(status="pending").count() == 2


def test_approve__expired_challenge__refused(enrolled, login):
    credential = enrolled.assertion(login["txid"], "approve")
    WebAuthnChallenge.objects.update(expires_at="2000-01-01T00:00:00Z")
    body = {"decision": "approve", "number": login["number"], "credential": credential}
    response = enrolled.call("POST", f"approvals/{login['txid']}/decision", body)
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_challenge_invalid"


def test_approve__cloned_authenticator_counter_behind__refused(enrolled, login, relying):
    enrolled.decide(login["txid"], "approve", login["number"])  # stored counter is now 1
    second = relying.auth("alice").json()
    enrolled.authenticator.sign_count = 0  # a clone replays an old counter value
    response = enrolled.decide(second["txid"], "approve", second["number"])
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_verification_failed"
    assert sign_count(enrolled) == 1
    assert ApprovalRequest.objects.get(pk=second["txid"]).status == "pending"


def test_deny__one_tap__denied(enrolled, login, relying):
    response = enrolled.decide(login["txid"], "deny", with_assertion=False)
    assert response.status_code == 200
    assert response.json()["status"] == "denied"
    assert relying.status(login["txid"]).json()["result"] == "deny"


def test_fraud__one_tap__recorded_and_counted(enrolled, login, subscriber):
    response = enrolled.decide(login["txid"], "fraud", with_assertion=False)
    assert response.status_code == 200
    assert response.json()["status"] == "fraud"
    assert ApprovalRequest.objects.get(pk=login["txid"]).status_reason == "user_fraud"
    assert AuditEvent.objects.filter(kind="approval.fraud", approval_id=login["txid"]).exists()
    assert Subscriber.objects.get(pk=subscriber.pk).failed_attempts == 1


def test_decide__other_subscribers_request__not_found(enrolled, tenant, issued_app):
    from approvals.services import LoginContext, approval_request_create
    from tenants.services import subscriber_get_or_create
    from tests.conftest import make_device

    bob = subscriber_get_or_create(tenant=tenant, username="bob")
    make_device(bob)
    approval = approval_request_create(application=issued_app.application, username="bob", context=LoginContext())
    response = enrolled.call("POST", f"approvals/{approval.pk}/options", {"decision": "approve"})
    assert response.status_code == 404
    assert response.json()["code"] == "approval_not_found"
    response = enrolled.decide(str(approval.pk), "deny", with_assertion=False)
    assert response.status_code == 404
    assert response.json()["code"] == "approval_not_found"
    assert ApprovalRequest.objects.get(pk=approval.pk).status == "pending"


def test_decide__without_csrf__refused(enrolled, login):
    response = enrolled.call("POST", f"approvals/{login['txid']}/decision", {"decision": "deny"}, csrf=False)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert ApprovalRequest.objects.get(pk=login["txid"]).status == "pending"


def test_session__app_key_device_token_as_cookie__refused(phone, relying, browser):
    login = relying.auth("alice").json()
    browser.client.cookies["mfa_approver"] = phone.token  # only WebAuthn devices ever get the cookie
    response = browser.call("POST", f"approvals/{login['txid']}/decision", {"decision": "deny"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert ApprovalRequest.objects.get(pk=login["txid"]).status == "pending"
    assert not WebAuthnChallenge.objects.exists()


def test_decide_webauthn_service__app_key_device__refused_and_audited(phone, relying):
    from approvals.services import approval_request_decide_webauthn
    from devices.credentials import NotWebAuthnDeviceError
    from devices.models import Device

    login = relying.auth("alice").json()
    with pytest.raises(NotWebAuthnDeviceError):
        approval_request_decide_webauthn(
            device=Device.objects.get(pk=phone.device_id),
            approval_id=login["txid"],
            decision="deny",
            number="",
            credential=None,
        )
    assert ApprovalRequest.objects.get(pk=login["txid"]).status == "pending"
    refused = AuditEvent.objects.get(kind="approval.decision_refused", approval_id=login["txid"])
    assert refused.detail["reason"] == "not_webauthn_device"
