"""Pure X.509 construction with ``cryptography``: CA and client certificates, CRLs, CSR checks, PKCS#12.

No ORM and no settings here: the services pass every value in, so each function is testable alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from pki.exceptions import CsrInvalidError, CsrSignatureInvalidError, KeyNotAllowedError
from pki.keys import SigningKey, signature_hash

REASON_FLAGS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "key_compromise": x509.ReasonFlags.key_compromise,
    "affiliation_changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessation_of_operation": x509.ReasonFlags.cessation_of_operation,
    "certificate_hold": x509.ReasonFlags.certificate_hold,
    "privilege_withdrawn": x509.ReasonFlags.privilege_withdrawn,
}


@dataclass(frozen=True)
class Holder:
    """Who a client certificate identifies: tenant, and a subscriber (optionally one device) or an application."""

    tenant_slug: str
    tenant_name: str
    username: str
    device_id: int | None = None
    application_key: str | None = None  # a relying service's integration key (then no username)

    @property
    def uri(self) -> str:
        """``urn:mfa:<tenant>:<username>[:device:<id>]`` with the username percent-encoded, or
        ``urn:mfa:<tenant>:app:<integration key>`` for an application."""
        tenant = quote(self.tenant_slug, safe="")
        if self.application_key is not None:
            return f"urn:mfa:{tenant}:app:{quote(self.application_key, safe='')}"
        uri = f"urn:mfa:{tenant}:{quote(self.username, safe='@.-_~+')}"
        return f"{uri}:device:{self.device_id}" if self.device_id is not None else uri

    @property
    def label(self) -> str:
        if self.application_key is not None:
            return f"app {self.application_key}"
        return f"{self.username} device {self.device_id}" if self.device_id is not None else self.username


def serial_hex(serial: int) -> str:
    """Upper-case hex without leading zeros, as ``openssl x509 -serial`` prints it."""
    return format(serial, "X")


def public_key_sha256(public_key: CertificatePublicKeyTypes) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo (identifies a key across renewals)."""
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def _aki(issuer_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key())  # type: ignore[arg-type]


def _cdp(url: str) -> x509.CRLDistributionPoints:
    point = x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(url)], relative_name=None, reasons=None, crl_issuer=None
    )
    return x509.CRLDistributionPoints([point])


def build_ca_certificate(
    *,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    issuer_cert: x509.Certificate | None,
    issuer_key: SigningKey,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None,
    crl_url: str | None = None,
) -> x509.Certificate:
    """A CA certificate: self-signed root when ``issuer_cert`` is None, otherwise signed by that CA."""
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)  # type: ignore[arg-type]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
    )
    if issuer_cert is None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
    else:
        builder = builder.add_extension(_aki(issuer_cert), critical=False)
    if crl_url:
        builder = builder.add_extension(_cdp(crl_url), critical=False)
    return builder.sign(issuer_key, signature_hash(issuer_key))


def build_client_certificate(
    *,
    holder: Holder,
    public_key: CertificatePublicKeyTypes,
    issuer_cert: x509.Certificate,
    issuer_key: SigningKey,
    not_before: datetime,
    not_after: datetime,
    crl_url: str,
    ocsp_url: str | None = None,
) -> x509.Certificate:
    """A TLS client certificate (RFC 5280 profile).

    KeyUsage digitalSignature (critical), EKU clientAuth, BasicConstraints CA:FALSE (critical), SAN URI
    identifying tenant/subscriber/device, SKI/AKI, the issuing CA's CRL distribution point and (when
    given) its OCSP responder in AuthorityInformationAccess. The serial is 159 random bits
    (``x509.random_serial_number``).
    """
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, holder.tenant_name[:64] or holder.tenant_slug),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, holder.tenant_slug[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, holder.label[:64]),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(holder.uri)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)  # type: ignore[arg-type]
        .add_extension(_aki(issuer_cert), critical=False)
        .add_extension(_cdp(crl_url), critical=False)
    )
    if ocsp_url:
        access = x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return builder.sign(issuer_key, signature_hash(issuer_key))


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: str


def build_crl(
    *,
    issuer_cert: x509.Certificate,
    issuer_key: SigningKey,
    crl_number: int,
    this_update: datetime,
    next_update: datetime,
    revoked: list[RevokedEntry],
) -> x509.CertificateRevocationList:
    """A v2 CRL with CRLNumber and AKI; reasonCode is omitted for ``unspecified`` (RFC 5280 §5.3.1)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(_aki(issuer_cert), critical=False)
    )
    for entry in revoked:
        revoked_builder = x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at)
        if entry.reason and entry.reason != "unspecified":
            revoked_builder = revoked_builder.add_extension(x509.CRLReason(REASON_FLAGS[entry.reason]), critical=False)
        builder = builder.add_revoked_certificate(revoked_builder.build())
    return builder.sign(issuer_key, signature_hash(issuer_key))


def check_client_public_key(public_key: object) -> CertificatePublicKeyTypes:
    """Accept EC P-256/P-384 and RSA >= 2048 keys for client certificates.

    Raises:
        KeyNotAllowedError: for any other key.
    """
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1 | ec.SECP384R1):
        return public_key
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size >= 2048:
        return public_key
    raise KeyNotAllowedError()


def load_csr(data: str | bytes) -> x509.CertificateSigningRequest:
    """Parse a PEM or DER CSR and check that it is signed by the key it carries (proof of possession).

    Only the public key is taken from a CSR: subject and extensions are set by the CA.

    Raises:
        CsrInvalidError: not a CSR.
        CsrSignatureInvalidError: the self-signature does not verify.
        KeyNotAllowedError: unsupported key type or size.
    """
    raw = data.encode() if isinstance(data, str) else data
    try:
        csr = x509.load_pem_x509_csr(raw) if raw.lstrip().startswith(b"-----") else x509.load_der_x509_csr(raw)
        signature_ok = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, TypeError) as exc:
        raise CsrInvalidError() from exc
    if not signature_ok:
        raise CsrSignatureInvalidError()
    check_client_public_key(public_key)
    return csr


def pkcs12_bundle(
    *, name: str, key: SigningKey, cert: x509.Certificate, cas: list[x509.Certificate], password: str
) -> bytes:
    """A PKCS#12 file protected with ``password`` (cryptography's best available encryption)."""
    return pkcs12.serialize_key_and_certificates(
        name=name.encode(),
        key=key,
        cert=cert,
        cas=cas,
        encryption_algorithm=serialization.BestAvailableEncryption(password.encode()),
    )


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_cert(pem: str | bytes) -> x509.Certificate:
    """Parse one PEM (or DER) certificate; raises ``ValueError`` when it is not one."""
    raw = pem.encode() if isinstance(pem, str) else pem
    if raw.lstrip().startswith(b"-----"):
        return x509.load_pem_x509_certificate(raw)
    return x509.load_der_x509_certificate(raw)
