"""CA creation and import, key encryption at rest, and the policy engine's certificate check."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from pki import keys, services
from pki.exceptions import CaImportInvalidError, CaKeyUnavailableError
from pki.models import CertificateAuthority
from pki.selectors import certificate_status
from tenants.services import tenant_create
from tests.pki.conftest import make_csr, openssl_verify


def _self_signed_ca(*, ca: bool = True, days: int = 30) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Corp Legacy CA")])
    now = timezone.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def test_ca_create_hierarchy__root_signs_issuing_and_key_is_encrypted(tenant, hierarchy):
    root, issuing = hierarchy
    root_cert = x509.load_pem_x509_certificate(root.certificate_pem.encode())
    issuing_cert = x509.load_pem_x509_certificate(issuing.certificate_pem.encode())
    issuing_cert.verify_directly_issued_by(root_cert)
    assert issuing_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert (root.kind, root.is_issuing, issuing.kind, issuing.is_issuing) == ("root", False, "intermediate", True)
    assert issuing.algorithm == "ec-p256"
    assert isinstance(issuing_cert.public_key(), ec.EllipticCurvePublicKey)
    # At rest: a Fernet token in the row, no PEM/DER key anywhere in the raw database columns.
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_private_key FROM pki_certificateauthority WHERE id = %s", [issuing.pk])
        (stored,) = cursor.fetchone()
    assert "PRIVATE KEY" not in stored
    assert stored.startswith("gAAAAA")  # Fernet version byte
    key = keys.decrypt_private_key(stored)
    assert key.public_key() == issuing_cert.public_key()
    assert AuditEvent.objects.filter(kind="pki.ca_created", tenant_id=tenant.pk).count() == 1


def test_decrypt_private_key__needs_a_configured_kek(issuing, settings):
    settings.MFA_CA_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CaKeyUnavailableError) as exc:
        keys.decrypt_private_key(issuing.encrypted_private_key)
    assert exc.value.code == "ca_key_unavailable"


def test_ca_rewrap_keys__rotation_to_a_new_kek(issuing, settings):
    old = list(settings.MFA_CA_KEY_ENCRYPTION_KEYS)
    new = Fernet.generate_key().decode()
    settings.MFA_CA_KEY_ENCRYPTION_KEYS = [new, *old]
    assert services.ca_rewrap_keys() == 2
    settings.MFA_CA_KEY_ENCRYPTION_KEYS = [new]
    reloaded = CertificateAuthority.objects.get(pk=issuing.pk)
    key = keys.decrypt_private_key(reloaded.encrypted_private_key)
    assert key.public_key() == x509.load_pem_x509_certificate(issuing.certificate_pem.encode()).public_key()


def test_ca_import__password_protected_key_issues_verifiable_certs(tenant, subscriber, tmp_path):
    key, cert = _self_signed_ca()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"s3cret")
    )
    ca = services.ca_import(
        tenant=tenant,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM),
        private_key_pem=key_pem,
        key_password="s3cret",
        actor="test",
    )
    assert (ca.kind, ca.is_imported, ca.is_issuing) == ("root", True, True)
    assert "PRIVATE KEY" not in ca.encrypted_private_key
    _, csr = make_csr()
    issued = services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr)
    assert issued.ca_id == ca.pk
    assert openssl_verify(tmp_path, ca, issued.certificate_pem).returncode == 0
    assert AuditEvent.objects.filter(kind="pki.ca_imported").count() == 1


@pytest.mark.parametrize("problem", ["wrong_key", "not_a_ca", "wrong_password", "garbage"])
def test_ca_import__invalid_input_refused(tenant, problem):
    key, cert = _self_signed_ca(ca=problem != "not_a_ca")
    if problem == "wrong_key":
        key = ec.generate_private_key(ec.SECP256R1())
    encryption = (
        serialization.BestAvailableEncryption(b"right") if problem == "wrong_password" else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    cert_pem = b"garbage" if problem == "garbage" else cert.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CaImportInvalidError) as exc:
        services.ca_import(
            tenant=tenant,
            certificate_pem=cert_pem,
            private_key_pem=key_pem,
            key_password="wrong" if problem == "wrong_password" else None,
        )
    assert exc.value.code == "ca_import_invalid"
    assert not CertificateAuthority.objects.exists()


def test_certificate_status__valid_then_revoked_expired_or_foreign(tenant, subscriber, issuing):
    _, csr = make_csr()
    issued = services.certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr, validity_days=10)

    valid, reason, holder = certificate_status(issued.certificate_pem, tenant=tenant)
    assert (valid, reason) == (True, "ok")
    assert holder.subscriber == subscriber

    other = tenant_create(name="Other", slug="other")
    assert tuple(certificate_status(issued.certificate_pem, tenant=other))[:2] == (False, "unknown_certificate")
    assert tuple(certificate_status("not a cert", tenant=tenant))[:2] == (False, "unparseable")
    with time_machine.travel(timezone.now() + timedelta(days=11), tick=False):
        assert tuple(certificate_status(issued.certificate_pem, tenant=tenant))[:2] == (False, "expired")

    # A certificate this platform did not issue is not accepted.
    _, foreign = _self_signed_ca()
    assert certificate_status(foreign, tenant=tenant).reason == "unknown_certificate"

    services.certificate_revoke(certificate=issued, reason="key_compromise")
    status = certificate_status(x509.load_pem_x509_certificate(issued.certificate_pem.encode()), tenant=tenant)
    assert (status.valid, status.reason, status.holder.pk) == (False, "revoked", issued.pk)
