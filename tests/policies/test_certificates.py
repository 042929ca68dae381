"""Checking a forwarded certificate against an uploaded CA bundle and CRL (pure, cryptography)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from policies.certificates import check_certificate, holder_of
from tests.policies.certs import MiniCa, escaped, pem


@pytest.fixture(scope="module")
def ca() -> MiniCa:
    return MiniCa("Acme Client CA")


def test_check_certificate__reasons(ca):
    now = datetime.now(UTC)
    other = MiniCa("Evil CA")
    good, _ = ca.issue("alice", uri="urn:mfa:acme:alice:device:7")
    expired, _ = ca.issue("alice", not_before=now - timedelta(days=10), not_after=now - timedelta(days=1))
    future, _ = ca.issue("alice", not_before=now + timedelta(days=1))
    foreign, _ = other.issue("alice")
    server, _ = ca.issue("app.example", server=True)
    revoked, _ = ca.issue("mallory")
    ca.revoke(revoked)
    crl = ca.crl_pem()
    cases = {
        "certificate_valid": escaped(good),  # URL-encoded as nginx forwards it
        "certificate_expired": pem(expired),
        "certificate_not_yet_valid": pem(future),
        "certificate_untrusted": pem(foreign),
        "certificate_wrong_usage": pem(server),
        "certificate_revoked": pem(revoked),
        "certificate_malformed": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    }
    for reason, presented in cases.items():
        checked = check_certificate(pem=presented, ca_bundle_pem=ca.pem, crl_pem=crl, now=now)
        assert (checked.valid, checked.reason) == (reason == "certificate_valid", reason), reason
    checked = check_certificate(pem=escaped(good), ca_bundle_pem=ca.pem, crl_pem=crl, now=now)
    assert (checked.holder_username, checked.holder_device_id) == ("alice", 7)
    assert checked.serial == format(good.serial_number, "X")
    assert check_certificate(pem="no pem here", ca_bundle_pem=ca.pem, now=now).reason == "certificate_malformed"


def test_check_certificate__ca_problems(ca):
    now = datetime.now(UTC)
    good, _ = ca.issue("alice")
    assert check_certificate(pem=pem(good), ca_bundle_pem="", now=now).reason == "ca_not_configured"
    broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
    assert check_certificate(pem=pem(good), ca_bundle_pem=broken, now=now).reason == "ca_not_configured"
    assert (
        check_certificate(
            pem=pem(good), ca_bundle_pem=ca.pem, crl_pem="-----BEGIN X509 CRL-----\nAA\n-----END X509 CRL-----", now=now
        ).reason
        == "ca_not_configured"
    )
    later = now + timedelta(days=400)  # the CA itself has expired by then
    assert check_certificate(pem=pem(good), ca_bundle_pem=ca.pem, now=later).reason == "certificate_ca_expired"


def test_check_certificate__a_crl_not_signed_by_the_ca_is_ignored(ca):
    now = datetime.now(UTC)
    victim, _ = ca.issue("alice")
    impostor = MiniCa(ca.name)  # same name, other key
    impostor.revoke(victim)
    forged_crl = impostor.crl_pem()
    assert check_certificate(pem=pem(victim), ca_bundle_pem=ca.pem, crl_pem=forged_crl, now=now).valid
    # A certificate with the CA's name but signed by another key is untrusted.
    lookalike, _ = impostor.issue("alice")
    assert check_certificate(pem=pem(lookalike), ca_bundle_pem=ca.pem, now=now).reason == "certificate_untrusted"


def test_holder_of__common_name_without_urn(ca):
    cert, _ = ca.issue("bob", uri="https://example.com/not-ours")
    assert holder_of(cert) == ("bob", None)
    assert holder_of(ca.issue("carol@example.com")[0]) == ("carol@example.com", None)
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey)
