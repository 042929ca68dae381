"""Fixtures for the CA tests: a tenant CA hierarchy, CSRs with real keys, openssl helpers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pki import services
from pki.models import CertificateAuthority
from pki.selectors import ca_chain_pem, crl_pem


@pytest.fixture
def hierarchy(tenant) -> tuple[CertificateAuthority, CertificateAuthority]:
    return services.ca_create_hierarchy(tenant=tenant, actor="test")


@pytest.fixture
def issuing(hierarchy) -> CertificateAuthority:
    return hierarchy[1]


def make_csr(common_name: str = "whatever") -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives import serialization

    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def openssl_verify(tmp_path: Path, ca: CertificateAuthority, certificate_pem: str) -> subprocess.CompletedProcess:
    """``openssl verify -CAfile chain.pem -crl_check -CRLfile crl.pem cert.pem`` with the CA's current CRL."""
    ca.refresh_from_db()
    (tmp_path / "chain.pem").write_text(ca_chain_pem(ca=ca))
    (tmp_path / "crl.pem").write_text(crl_pem(ca=ca))
    (tmp_path / "cert.pem").write_text(certificate_pem)
    return subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(tmp_path / "chain.pem"),
            "-crl_check",
            "-CRLfile",
            str(tmp_path / "crl.pem"),
            str(tmp_path / "cert.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
