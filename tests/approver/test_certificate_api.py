"""'Certificate for this computer' over the approver API: device session, CSRF, a fresh UV assertion bound
to this action (single use), the PKCS#12 delivered once, refusals with stable codes, audit rows."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from audit.models import AuditEvent
from devices.models import Device
from pki.models import IssuedCertificate
from pki.services import ca_create_hierarchy

PASSWORD = "correct horse battery"


@pytest.fixture
def ca(tenant):
    return ca_create_hierarchy(tenant=tenant)[1]


def device_of(browser: Any) -> Device:
    return Device.objects.get(subscriber__username="alice", status=Device.Status.ACTIVE)


def options(browser: Any) -> dict[str, Any]:
    response = browser.call("POST", "certificate/options", {})
    assert response.status_code == 200, response.json()
    return response.json()


def fetch(browser: Any, password: str = PASSWORD, credential: dict[str, Any] | None = None) -> Any:
    if credential is None:
        credential = browser.authenticator.get(options(browser)["publicKey"])
    return browser.call("POST", "certificate", {"password": password, "credential": credential})


def refusals(device: Device) -> list[str]:
    return [e.detail["reason"] for e in AuditEvent.objects.filter(kind="pki.certificate_refused", device_id=device.pk)]


def test_certificate__fresh_assertion__pkcs12_bound_to_device_delivered_once(enrolled, ca, settings):
    body = options(enrolled)
    assert body["min_password_length"] == settings.MFA_PKI_P12_MIN_PASSWORD_LENGTH
    response = fetch(enrolled, credential=enrolled.authenticator.get(body["publicKey"]))
    assert response.status_code == 201
    assert response["Content-Type"] == "application/x-pkcs12"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"].startswith('attachment; filename="certificate-')
    key, cert, chain = pkcs12.load_key_and_certificates(response.content, PASSWORD.encode())
    device = device_of(enrolled)
    issued = IssuedCertificate.objects.get()
    assert (issued.device_id, issued.subscriber_id, issued.source) == (device.pk, device.subscriber_id, "approver")
    assert issued.serial == format(cert.serial_number, "X") == response["X-Certificate-Serial"]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [f"urn:mfa:acme:alice:device:{device.pk}"]
    assert key.public_key() == cert.public_key()
    assert len(chain) == 2
    with pytest.raises(ValueError, match="Invalid password"):
        pkcs12.load_key_and_certificates(response.content, b"wrong password")
    event = AuditEvent.objects.get(kind="pki.certificate_issued", device_id=device.pk)
    assert event.detail["source"] == "approver"
    assert event.detail["serial"] == issued.serial
    assert PASSWORD not in str(event.detail)
    assert "PRIVATE KEY" not in issued.certificate_pem  # the key is not stored


def test_certificate__challenge_reused__refused(enrolled, ca):
    credential = enrolled.authenticator.get(options(enrolled)["publicKey"])
    assert fetch(enrolled, credential=credential).status_code == 201
    again = fetch(enrolled, credential=credential)
    assert again.status_code == 400
    assert again.json()["code"] == "webauthn_challenge_invalid"
    assert IssuedCertificate.objects.count() == 1
    assert refusals(device_of(enrolled)) == ["webauthn_challenge_invalid"]


def test_certificate__user_not_verified__refused_nothing_issued(enrolled, ca):
    enrolled.authenticator.user_verified = False
    response = fetch(enrolled)
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_verification_failed"
    assert not IssuedCertificate.objects.exists()
    assert refusals(device_of(enrolled)) == ["webauthn_verification_failed"]


def test_certificate__assertion_for_device_removal__cannot_fetch(enrolled, ca):
    removal = enrolled.call("POST", "me/options", {}).json()["publicKey"]
    response = fetch(enrolled, credential=enrolled.authenticator.get(removal))
    assert response.status_code == 400
    assert response.json()["code"] == "webauthn_challenge_invalid"
    assert not IssuedCertificate.objects.exists()


def test_certificate__weak_password__refused_challenge_kept(enrolled, ca, settings):
    credential = enrolled.authenticator.get(options(enrolled)["publicKey"])
    short = "x" * (settings.MFA_PKI_P12_MIN_PASSWORD_LENGTH - 1)
    response = fetch(enrolled, password=short, credential=credential)
    assert response.status_code == 400
    assert response.json()["code"] == "p12_password_too_short"
    assert not IssuedCertificate.objects.exists()
    assert refusals(device_of(enrolled)) == ["p12_password_too_short"]
    assert fetch(enrolled, credential=credential).status_code == 201  # the weak password did not burn it


def test_certificate__tenant_without_ca__refused_before_the_fingerprint(enrolled):
    response = enrolled.call("POST", "certificate/options", {})
    assert response.status_code == 404
    assert response.json()["code"] == "ca_not_found"
    assert refusals(device_of(enrolled)) == ["ca_not_found"]
    assert not IssuedCertificate.objects.exists()


def test_certificate__no_session_or_no_csrf__refused(browser, enrolled, ca):
    response = enrolled.call("POST", "certificate/options", {}, csrf=False)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    credential = enrolled.authenticator.get(options(enrolled)["publicKey"])
    response = enrolled.call("POST", "certificate", {"password": PASSWORD, "credential": credential}, csrf=False)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    stranger = type(browser)()
    for path in ("certificate/options", "certificate"):
        response = stranger.call("POST", path, {"password": PASSWORD, "credential": {}})
        assert response.status_code == 401, path
        assert response.json()["code"] == "not_authenticated"
    assert not IssuedCertificate.objects.exists()


def test_certificate__bad_input__400_not_500(enrolled, ca):
    for body in (
        {},
        {"password": PASSWORD},
        {"password": 5, "credential": "x"},
        {"password": PASSWORD, "credential": {}},
    ):
        response = enrolled.call("POST", "certificate", body)
        assert response.status_code == 400, body
        assert response.json()["code"] in ("invalid_input", "webauthn_challenge_invalid"), body
    assert not IssuedCertificate.objects.exists()
