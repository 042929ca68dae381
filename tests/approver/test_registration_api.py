"""Activation of the approver web app: WebAuthn registration with the activation code, over the browser API."""

from __future__ import annotations

from audit.models import AuditEvent
from devices.models import Device, Enrollment, WebAuthnChallenge, WebAuthnCredential
from policies.models import Policy
from tests.approver.conftest import Browser
from tests.authenticator import SoftAuthenticator


def test_register__verified_platform_credential__device_created_code_consumed_session_cookie(
    browser, activation_code, subscriber, settings
):
    response = browser.register(activation_code, name="Alice's phone")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Alice's phone"
    assert body["kind"] == "webauthn"
    assert body["username"] == "alice"
    device = Device.objects.get(pk=body["device_id"])
    assert device.kind == Device.Kind.WEBAUTHN
    assert device.subscriber == subscriber
    assert device.public_key_pem == ""
    credential = WebAuthnCredential.objects.get(device=device)
    assert credential.credential_id == browser.authenticator.credential_id_b64
    assert credential.sign_count == 0
    assert credential.transports == ["internal"]
    assert credential.attestation_object is None  # attestation "none": nothing kept
    assert Enrollment.objects.get(subscriber=subscriber).used_at is not None
    cookie = response.cookies[settings.MFA_APPROVER_COOKIE_NAME]
    assert cookie["secure"] is True  # DEBUG is off in tests
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert AuditEvent.objects.filter(kind="device.activated", device_id=device.pk).exists()
    me = browser.call("GET", "me")
    assert me.status_code == 200
    assert me.json()["device_id"] == device.pk


def test_register__attestation_setting_on__attestation_object_stored(browser, activation_code, settings):
    settings.MFA_WEBAUTHN_ATTESTATION = "direct"
    response = browser.register(activation_code)
    assert response.status_code == 201, response.json()
    credential = WebAuthnCredential.objects.get(device_id=response.json()["device_id"])
    assert credential.attestation_format == "none"
    assert bytes(credential.attestation_object)


def test_register_options__wrong_code__refused_counted_nothing_issued(browser, activation_code):
    response = browser.call("POST", "register/options", {"code": "WRONG-CODE"})
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "activation_code_invalid"
    assert not WebAuthnChallenge.objects.exists()
    assert AuditEvent.objects.filter(kind="device.activation_refused").count() == 1


def test_register__user_not_verified__refused_code_still_usable(browser, activation_code, subscriber):
    browser.authenticator.user_verified = False
    response = browser.register(activation_code)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "webauthn_verification_failed"
    assert not Device.objects.exists()
    assert Enrollment.objects.get(subscriber=subscriber).used_at is None
    assert browser.client.cookies.get("mfa_approver") is None
    # The code was not consumed: the same phone with a working fingerprint can still activate.
    browser.authenticator.user_verified = True
    assert browser.register(activation_code).status_code == 201


def test_register__challenge_replayed__refused(browser, activation_code):
    options = browser.call("POST", "register/options", {"code": activation_code}).json()
    credential = browser.authenticator.create(options["publicKey"])
    first = browser.call("POST", "register", {"code": activation_code, "name": "a", "credential": credential})
    assert first.status_code == 201
    other = Browser()
    again = other.call("POST", "register", {"code": activation_code, "name": "b", "credential": credential})
    assert again.status_code == 400
    assert again.json()["code"] == "activation_code_invalid"
    assert Device.objects.count() == 1


def test_register__challenge_of_another_enrolment__refused(browser, activation_code, subscriber):
    from devices.services import enrollment_create

    other_code = enrollment_create(subscriber=subscriber, created_by="test").activation_code
    options = browser.call("POST", "register/options", {"code": other_code}).json()
    credential = browser.authenticator.create(options["publicKey"])
    response = browser.call("POST", "register", {"code": activation_code, "name": "x", "credential": credential})
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_challenge_invalid"
    assert not Device.objects.exists()
    assert not Enrollment.objects.filter(used_at__isnull=False).exists()


def test_register__without_csrf_token__refused(browser, activation_code):
    options = browser.call("POST", "register/options", {"code": activation_code}, csrf=False)
    assert options.status_code == 403, options.json()
    assert options.json()["code"] == "csrf_failed"
    assert not WebAuthnChallenge.objects.exists()


def test_register__malformed_credential__400_not_500(browser, activation_code, subscriber):
    browser.call("POST", "register/options", {"code": activation_code})
    response = browser.call("POST", "register", {"code": activation_code, "name": "x", "credential": {"id": 1}})
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_challenge_invalid"
    response = browser.call("POST", "register", {"code": activation_code, "name": "x", "credential": "nope"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert Enrollment.objects.get(subscriber=subscriber).used_at is None


def test_register__same_authenticator_twice__excluded_in_options(enrolled, subscriber):
    from devices.services import enrollment_create

    code = enrollment_create(subscriber=subscriber, created_by="test").activation_code
    options = enrolled.call("POST", "register/options", {"code": code}).json()["publicKey"]
    assert [c["id"] for c in options["excludeCredentials"]] == [enrolled.authenticator.credential_id_b64]
    # A software authenticator does not honour excludeCredentials; the server still refuses the duplicate.
    credential = enrolled.authenticator.create(options)
    response = enrolled.call("POST", "register", {"code": code, "name": "again", "credential": credential})
    assert response.status_code == 409
    assert response.json()["code"] == "webauthn_credential_exists"
    assert Device.objects.count() == 1
    assert Enrollment.objects.filter(used_at__isnull=True).count() == 1


def test_me__no_session__401(browser):
    response = browser.call("GET", "me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_register__software_authenticator_on_other_origin__refused(activation_code):
    browser = Browser(authenticator=SoftAuthenticator(origin="http://phish.example"))
    response = browser.register(activation_code)
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_verification_failed"


def test_register__tenant_policy_requires_client_certificate__refused_code_kept(browser, activation_code, tenant):
    Policy.objects.create(tenant=tenant, client_cert_required=True)
    response = browser.call("POST", "register/options", {"code": activation_code})
    assert response.status_code == 403
    assert response.json()["code"] == "policy_denied"
    assert not WebAuthnChallenge.objects.exists()
    assert Enrollment.objects.filter(used_at__isnull=True).count() == 1


def test_register__policy_locked_between_steps__refused_code_kept(browser, activation_code, tenant):
    options = browser.call("POST", "register/options", {"code": activation_code}).json()
    credential = browser.authenticator.create(options["publicKey"])
    Policy.objects.create(tenant=tenant, client_cert_required=True)
    response = browser.call("POST", "register", {"code": activation_code, "name": "x", "credential": credential})
    assert response.status_code == 403
    assert response.json()["code"] == "policy_denied"
    assert not Device.objects.exists()
    assert Enrollment.objects.filter(used_at__isnull=True).count() == 1
    assert WebAuthnChallenge.objects.filter(used_at__isnull=True).count() == 1
