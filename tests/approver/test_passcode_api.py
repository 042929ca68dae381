"""Passcode (TOTP) secret for the approver web app: provisioned once over the device session."""

from __future__ import annotations

import logging

import pyotp
import pytest

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from devices.models import Device
from fallbacks.models import DeviceTotp
from mfa_server.crypto import decrypt_secret
from tests.fallbacks.helpers import passcode

pytestmark = pytest.mark.django_db
PATH = "passcode-secret"


def _device() -> Device:
    return Device.objects.get(kind=Device.Kind.WEBAUTHN)


def _kinds(device: Device) -> list[str]:
    return list(
        AuditEvent.objects.filter(device_id=device.pk, kind__startswith="passcode_secret")
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def _reprovision(browser, *, purpose_path: str = "passcode-secret/options") -> object:
    options = browser.call("POST", purpose_path, {})
    assert options.status_code == 200, options.json()
    return browser.call("POST", PATH, {"credential": browser.authenticator.get(options.json()["publicKey"])})


def test_passcode_secret__first_call__secret_once_stored_encrypted_audited(enrolled, caplog):
    caplog.set_level(logging.DEBUG)
    response = enrolled.call("POST", PATH, {})
    assert response.status_code == 201, response.json()
    body = response.json()
    device = _device()
    assert (body["digits"], body["period"], body["algorithm"], body["device_id"]) == (6, 30, "SHA1", device.pk)
    assert response["Cache-Control"] == "no-store"
    stored = DeviceTotp.objects.get(device=device)
    assert body["secret"] not in stored.secret_encrypted
    assert decrypt_secret(stored.secret_encrypted) == body["secret"]
    assert _kinds(device) == ["passcode_secret.provisioned"]
    assert body["secret"] not in caplog.text
    assert body["secret"] not in str(list(AuditEvent.objects.values_list("detail", flat=True)))


def test_passcode_secret__second_call__409_same_secret_kept_refusal_audited(enrolled):
    first = enrolled.call("POST", PATH, {}).json()["secret"]
    second = enrolled.call("POST", PATH, {})
    assert second.status_code == 409
    assert second.json()["code"] == "passcode_secret_already_provisioned"
    assert "secret" not in second.json()
    device = _device()
    assert decrypt_secret(DeviceTotp.objects.get(device=device).secret_encrypted) == first
    assert _kinds(device) == ["passcode_secret.provisioned", "passcode_secret.provision_refused"]
    refused = AuditEvent.objects.get(kind="passcode_secret.provision_refused")
    assert refused.detail["reason"] == "passcode_secret_already_provisioned"


def test_passcode_secret__no_session__401_nothing_created(browser):
    response = browser.call("POST", PATH, {})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert DeviceTotp.objects.count() == 0


def test_passcode_secret__without_csrf_token__403_nothing_created(enrolled):
    response = enrolled.call("POST", PATH, {}, csrf=False)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert DeviceTotp.objects.count() == 0


def test_passcode_secret__revoked_device__refused_nothing_created(enrolled):
    Device.objects.update(status=Device.Status.REVOKED)
    response = enrolled.call("POST", PATH, {})
    assert response.status_code in (401, 403)
    assert response.json()["code"] in ("device_revoked", "not_authenticated")
    assert DeviceTotp.objects.count() == 0


def test_passcode_secret__provisioned_code__logs_in_through_relying_api(enrolled, relying):
    secret = enrolled.call("POST", PATH, {}).json()["secret"]
    response = passcode(relying, pyotp.TOTP(secret).now())
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["status_reason"]) == ("approved", "passcode_verified")
    approval = ApprovalRequest.objects.get(pk=response.json()["txid"])
    assert approval.decided_by_id == _device().pk


def test_passcode_secret__reprovision_with_fresh_assertion__new_secret_old_one_dead(enrolled, relying):
    old = enrolled.call("POST", PATH, {}).json()["secret"]
    response = _reprovision(enrolled)
    assert response.status_code == 201, response.json()
    new = response.json()["secret"]
    assert new != old
    device = _device()
    assert decrypt_secret(DeviceTotp.objects.get(device=device).secret_encrypted) == new
    assert _kinds(device) == ["passcode_secret.provisioned", "passcode_secret.reset", "passcode_secret.provisioned"]
    refused = passcode(relying, pyotp.TOTP(old).now())
    assert (refused.json()["status"], refused.json()["status_reason"]) == ("denied", "passcode_invalid")
    accepted = passcode(relying, pyotp.TOTP(new).now())
    assert accepted.json()["status"] == "approved"


def test_passcode_secret__reprovision_with_bad_assertion__refused_secret_kept(enrolled):
    old = enrolled.call("POST", PATH, {}).json()["secret"]
    options = enrolled.call("POST", "passcode-secret/options", {}).json()["publicKey"]
    enrolled.authenticator.user_verified = False
    forged = enrolled.authenticator.get(options)
    response = enrolled.call("POST", PATH, {"credential": forged})
    assert response.status_code in (400, 403)
    assert response.json()["code"] == "webauthn_verification_failed"
    device = _device()
    assert decrypt_secret(DeviceTotp.objects.get(device=device).secret_encrypted) == old
    refused = AuditEvent.objects.filter(kind="passcode_secret.provision_refused").get()
    assert refused.detail["reason"] == "webauthn_verification_failed"


def test_passcode_secret__reprovision_with_removal_challenge__refused_secret_kept(enrolled):
    old = enrolled.call("POST", PATH, {}).json()["secret"]
    response = _reprovision(enrolled, purpose_path="me/options")  # a challenge issued to remove the phone
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_challenge_invalid"
    assert decrypt_secret(DeviceTotp.objects.get(device=_device()).secret_encrypted) == old
    assert Device.objects.get().status == Device.Status.ACTIVE


def test_passcode_secret__assertion_replayed__second_use_refused(enrolled):
    enrolled.call("POST", PATH, {})
    options = enrolled.call("POST", "passcode-secret/options", {}).json()["publicKey"]
    credential = enrolled.authenticator.get(options)
    assert enrolled.call("POST", PATH, {"credential": credential}).status_code == 201
    replay = enrolled.call("POST", PATH, {"credential": credential})
    assert replay.status_code == 400
    assert replay.json()["code"] == "webauthn_challenge_invalid"


def test_passcode_secret__malformed_body__400_not_500(enrolled):
    response = enrolled.call("POST", PATH, {"credential": "not an object"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert DeviceTotp.objects.count() == 0
