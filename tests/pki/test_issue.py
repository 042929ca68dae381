"""Issuance from CSRs and as PKCS#12, checked with OpenSSL and cryptography."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from audit.models import AuditEvent
from pki import services
from pki.exceptions import (
    CaNotFoundError,
    CsrInvalidError,
    CsrSignatureInvalidError,
    HolderInvalidError,
    P12PasswordTooShortError,
)
from pki.models import IssuedCertificate
from pki.selectors import crl_url
from tenants.services import subscriber_get_or_create, tenant_create
from tests.helpers import db_text
from tests.pki.conftest import make_csr, openssl_verify


def test_certificate_issue_from_csr__verifies_with_openssl_and_has_the_client_profile(
    tenant, subscriber, issuing, tmp_path
):
    key, csr = make_csr()
    issued = services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr, actor="test")

    result = openssl_verify(tmp_path, issuing, issued.certificate_pem)
    assert result.returncode == 0, result.stdout + result.stderr
    cert = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    assert cert.public_key() == key.public_key()
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature
    assert not ku.value.key_cert_sign
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical
    assert bc.value.ca is False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:mfa:acme:alice"]
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == crl_url(ca=issuing)
    issuer = x509.load_pem_x509_certificate(issuing.certificate_pem.encode())
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert "CN=alice" in cert.subject.rfc4514_string()
    assert "OU=acme" in cert.subject.rfc4514_string()
    # The CSR's own subject ("whatever") is ignored: the CA decides the name.
    assert "whatever" not in cert.subject.rfc4514_string()

    stored = IssuedCertificate.objects.get(pk=issued.pk)
    assert (stored.serial, stored.status, stored.holder, stored.ca_id) == (
        format(cert.serial_number, "X"),
        "valid",
        "alice",
        issuing.pk,
    )
    event = AuditEvent.objects.get(kind="pki.certificate_issued")
    assert event.detail["serial"] == stored.serial
    assert event.subscriber_id == subscriber.pk


def test_certificate_issue_from_csr__device_bound_san(tenant, subscriber, phone, issuing):
    from devices.models import Device

    device = Device.objects.get(pk=phone.device_id)
    _, csr = make_csr()
    issued = services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, device=device, csr=csr)
    cert = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [f"urn:mfa:acme:alice:device:{device.pk}"]
    assert issued.device_id == device.pk


def test_certificate_issue_from_csr__bad_signature_refused(tenant, subscriber, issuing):
    _, csr_pem = make_csr()
    der = bytearray(x509.load_pem_x509_csr(csr_pem.encode()).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # flip a bit inside the signature
    with pytest.raises(CsrSignatureInvalidError) as exc:
        services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=bytes(der))
    assert exc.value.code == "csr_signature_invalid"
    assert not IssuedCertificate.objects.exists()
    assert not AuditEvent.objects.filter(kind="pki.certificate_issued").exists()


def test_certificate_issue_from_csr__garbage_refused(tenant, subscriber, issuing):
    with pytest.raises(CsrInvalidError) as exc:
        services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr="-----BEGIN nonsense")
    assert exc.value.code == "csr_invalid"
    assert not IssuedCertificate.objects.exists()


def test_certificate_issue_from_csr__subscriber_of_another_tenant_refused(tenant, issuing):
    other = tenant_create(name="Other", slug="other")
    stranger = subscriber_get_or_create(tenant=other, username="mallory")
    _, csr = make_csr()
    with pytest.raises(HolderInvalidError) as exc:
        services.certificate_issue_from_csr(tenant=tenant, subscriber=stranger, csr=csr)
    assert exc.value.code == "holder_invalid"
    assert not IssuedCertificate.objects.exists()


def test_certificate_issue_from_csr__tenant_without_ca_refused(tenant, subscriber):
    _, csr = make_csr()
    with pytest.raises(CaNotFoundError) as exc:
        services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr)
    assert exc.value.code == "ca_not_found"


def test_certificate_serials__random_159_bit_and_unique(tenant, subscriber, issuing):
    serials = set()
    for _ in range(12):
        _, csr = make_csr()
        issued = services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr)
        serial = int(issued.serial, 16)
        assert serial.bit_length() <= 159
        serials.add(serial)
    assert len(serials) == 12
    # 159 random bits: all 12 below 2^150 has probability 2^-108; a counter would fail this.
    assert max(serials) >= 2**150


def test_certificate_issue_pkcs12__opens_with_password_only(tenant, subscriber, issuing, tmp_path):
    bundle = services.certificate_issue_pkcs12(tenant=tenant, subscriber=subscriber, password="correct horse")

    key, cert, cas = pkcs12.load_key_and_certificates(bundle.pkcs12, b"correct horse")
    assert cert is not None
    assert key is not None
    assert cert.public_key() == key.public_key()
    assert format(cert.serial_number, "X") == bundle.certificate.serial
    assert len(cas) == 2  # issuing + root, so the importing OS can build the chain
    with pytest.raises(ValueError, match="(?i)password|decrypt"):
        pkcs12.load_key_and_certificates(bundle.pkcs12, None)
    with pytest.raises(ValueError, match="(?i)password|decrypt"):
        pkcs12.load_key_and_certificates(bundle.pkcs12, b"wrong password")
    # The generated key is not stored anywhere on the server.
    stored = IssuedCertificate.objects.get(pk=bundle.certificate.pk)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert key_pem.decode() not in db_text()
    assert stored.source == "server_key"
    assert openssl_verify(tmp_path, issuing, stored.certificate_pem).returncode == 0


def test_certificate_issue_pkcs12__short_password_refused(tenant, subscriber, issuing):
    with pytest.raises(P12PasswordTooShortError) as exc:
        services.certificate_issue_pkcs12(tenant=tenant, subscriber=subscriber, password="short")
    assert exc.value.code == "p12_password_too_short"
    assert not IssuedCertificate.objects.exists()


def test_certificate_issue_from_csr__rsa_hierarchy(tenant, subscriber, tmp_path):
    _, rsa_issuing = services.ca_create_hierarchy(tenant=tenant, algorithm="rsa-3072")
    assert rsa_issuing.algorithm == "rsa-3072"
    _, csr = make_csr()
    issued = services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr)
    assert issued.ca_id == rsa_issuing.pk
    cert = x509.load_pem_x509_certificate(issued.certificate_pem.encode())
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert openssl_verify(tmp_path, rsa_issuing, issued.certificate_pem).returncode == 0
