"""Pure checks of a presented client certificate against an uploaded CA bundle and optional CRLs.

Used when a policy trusts an external CA (the built-in CA is checked by ``pki.selectors``). The
bundle's certificates are trust anchors: the client certificate must be directly issued by one of
them (put the issuing CA in the bundle). No ORM, no I/O: the caller passes the time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

_CERT_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_CRL_BLOCK = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)
_URN = re.compile(r"^urn:mfa:[^:]+:(?P<username>[^:]+)(?::device:(?P<device>\d+))?$")


@dataclass(frozen=True)
class CertificateCheck:
    """``reason`` is ``certificate_valid`` or why not; the holder comes from the SAN / subject."""

    valid: bool
    reason: str
    holder_username: str = ""
    holder_device_id: int | None = None
    serial: str = ""


def parse_certificates(pem: str | bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle. Raises ``ValueError`` on a malformed block."""
    raw = pem.encode() if isinstance(pem, str) else pem
    return [x509.load_pem_x509_certificate(block) for block in _CERT_BLOCK.findall(raw)]


def parse_crls(pem: str | bytes) -> list[x509.CertificateRevocationList]:
    """Every CRL of a PEM bundle. Raises ``ValueError`` on a malformed block."""
    raw = pem.encode() if isinstance(pem, str) else pem
    return [x509.load_pem_x509_crl(block) for block in _CRL_BLOCK.findall(raw)]


def decode_forwarded_pem(value: str) -> str:
    """nginx ``$ssl_client_escaped_cert`` is the PEM, URL-encoded; plain PEM passes unchanged."""
    return unquote(value) if "%" in value else value


def holder_of(certificate: x509.Certificate) -> tuple[str, int | None]:
    """The subscriber (and device) a certificate names: ``urn:mfa:<tenant>:<user>[:device:<id>]`` SAN
    (what the built-in CA writes), else the subject common name."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
            match = _URN.match(uri)
            if match:
                device = match["device"]
                return unquote(match["username"]), int(device) if device else None
    except x509.ExtensionNotFound:
        pass
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return (str(names[0].value), None) if names else ("", None)


def _issuer_among(certificate: x509.Certificate, anchors: list[x509.Certificate]) -> x509.Certificate | None:
    for anchor in anchors:
        if anchor.subject != certificate.issuer:
            continue
        try:
            certificate.verify_directly_issued_by(anchor)
        except (InvalidSignature, ValueError, TypeError):
            continue
        return anchor
    return None


def _allows_client_auth(certificate: x509.Certificate) -> bool:
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ExtendedKeyUsageOID.CLIENT_AUTH in usages or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages


def _revoked(
    certificate: x509.Certificate, issuer: x509.Certificate, crls: list[x509.CertificateRevocationList]
) -> bool:
    for crl in crls:
        if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            continue  # a CRL of another CA, or a forged one, says nothing about this certificate
        if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
            return True
    return False


def check_certificate(*, pem: str, ca_bundle_pem: str, crl_pem: str = "", now: datetime) -> CertificateCheck:
    """Check chain (direct issuance by a bundle CA), validity of both, client-auth usage and revocation.

    Returns:
        A ``CertificateCheck`` whose reason is one of certificate_valid, certificate_malformed,
        certificate_untrusted, certificate_ca_expired, certificate_not_yet_valid, certificate_expired,
        certificate_wrong_usage, certificate_revoked, ca_not_configured.
    """
    try:
        anchors = parse_certificates(ca_bundle_pem)
        crls = parse_crls(crl_pem) if crl_pem else []
    except ValueError:
        return CertificateCheck(False, "ca_not_configured")
    if not anchors:
        return CertificateCheck(False, "ca_not_configured")
    try:
        found = parse_certificates(decode_forwarded_pem(pem))
    except ValueError:
        return CertificateCheck(False, "certificate_malformed")
    if not found:
        return CertificateCheck(False, "certificate_malformed")
    certificate = found[0]
    username, device_id = holder_of(certificate)
    serial = format(certificate.serial_number, "X")

    def result(reason: str) -> CertificateCheck:
        return CertificateCheck(reason == "certificate_valid", reason, username, device_id, serial)

    issuer = _issuer_among(certificate, anchors)
    if issuer is None:
        return result("certificate_untrusted")
    if not issuer.not_valid_before_utc <= now < issuer.not_valid_after_utc:
        return result("certificate_ca_expired")
    if now < certificate.not_valid_before_utc:
        return result("certificate_not_yet_valid")
    if now >= certificate.not_valid_after_utc:
        return result("certificate_expired")
    if not _allows_client_auth(certificate):
        return result("certificate_wrong_usage")
    if _revoked(certificate, issuer, crls):
        return result("certificate_revoked")
    return result("certificate_valid")
