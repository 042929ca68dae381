"""Reads: issuing CA lookup, chains, CRLs and the certificate check the policy engine calls."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from pki.builders import cert_pem, load_cert, serial_hex
from pki.exceptions import CaExpiredError, CaNotFoundError
from pki.models import CertificateAuthority, IssuedCertificate
from tenants.models import Tenant


def ca_issuing_for_tenant(*, tenant: Tenant) -> CertificateAuthority:
    """The tenant's most recently created issuing CA that has not expired.

    Raises:
        CaExpiredError: the tenant has issuing CAs but all have expired.
        CaNotFoundError: the tenant has no issuing CA.
    """
    issuing = CertificateAuthority.objects.filter(tenant=tenant, is_issuing=True)
    ca = issuing.filter(not_after__gt=timezone.now()).order_by("-created_at", "-pk").first()
    if ca is not None:
        return ca
    if issuing.exists():
        raise CaExpiredError()
    raise CaNotFoundError()


def ca_chain(*, ca: CertificateAuthority) -> list[x509.Certificate]:
    """The CA's certificate followed by its issuers up to the root (imported chains included)."""
    chain: list[x509.Certificate] = []
    node: CertificateAuthority | None = ca
    while node is not None:
        chain.append(load_cert(node.certificate_pem))
        if node.issuer_chain_pem:
            chain.extend(x509.load_pem_x509_certificates(node.issuer_chain_pem.encode()))
        node = node.parent
    return chain


def ca_chain_pem(*, ca: CertificateAuthority) -> str:
    """PEM bundle (issuing CA first, root last) for nginx ``ssl_client_certificate`` / ``openssl -CAfile``."""
    return "".join(cert_pem(cert) for cert in ca_chain(ca=ca))


def tenant_chain_pem(*, tenant: Tenant) -> str:
    """Every CA certificate of a tenant, each once: what nginx should trust for the tenant's clients."""
    return cas_chain_pem(CertificateAuthority.objects.filter(tenant=tenant).order_by("pk"))


def cas_chain_pem(cas: Iterable[CertificateAuthority]) -> str:
    """The chains of ``cas`` as one PEM bundle, each certificate once, in order of first appearance."""
    seen: set[bytes] = set()
    parts: list[str] = []
    for ca in cas:
        for cert in ca_chain(ca=ca):
            der = cert.public_bytes(serialization.Encoding.DER)
            if der not in seen:
                seen.add(der)
                parts.append(cert_pem(cert))
    return "".join(parts)


def crl_url(*, ca: CertificateAuthority) -> str:
    """The stable public URL of the CA's DER CRL, as written into CRL distribution points."""
    return settings.MFA_PKI_PUBLIC_URL.rstrip("/") + reverse("pki-crl-der", kwargs={"public_id": ca.public_id})


def ocsp_url(*, ca: CertificateAuthority) -> str:
    """The CA's OCSP responder URL, as written into AuthorityInformationAccess."""
    return settings.MFA_PKI_PUBLIC_URL.rstrip("/") + reverse("pki-ocsp", kwargs={"public_id": ca.public_id})


def crl_pem(*, ca: CertificateAuthority) -> str:
    """The current CRL as PEM (empty string before the first publication)."""
    if not ca.crl_der:
        return ""
    crl = x509.load_der_x509_crl(bytes(ca.crl_der))
    return crl.public_bytes(serialization.Encoding.PEM).decode()


def tenant_crls_pem(*, tenant: Tenant) -> str:
    """Every published CRL of a tenant's CAs, PEM-concatenated: nginx ``ssl_crl`` checks the whole chain
    (OpenSSL ``CRL_CHECK_ALL``), so it needs the root's CRL as well as the issuing CA's."""
    cas = CertificateAuthority.objects.filter(tenant=tenant, crl_der__isnull=False).order_by("pk")
    return "".join(crl_pem(ca=ca) for ca in cas)


@dataclass(frozen=True)
class CertificateStatus:
    """Outcome of :func:`certificate_status`; unpacks as ``(valid, reason, holder)``."""

    valid: bool
    reason: str
    holder: IssuedCertificate | None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.valid, self.reason, self.holder))


def certificate_status(
    certificate: x509.Certificate | str | bytes, *, tenant: Tenant | int, at: datetime | None = None
) -> CertificateStatus:
    """Is a presented client certificate good for ``tenant`` right now?

    Checks, in order: it parses; it is a certificate this platform issued for that tenant (same serial
    and byte-identical); its issuer's signature verifies and every CA up the chain is within its
    validity; the certificate is within its validity window; it is not revoked.

    Args:
        certificate: an ``x509.Certificate``, or PEM/DER bytes or text (e.g. nginx's ``$ssl_client_cert``,
            URL-decoded).
        tenant: the tenant (or its id) whose CAs must have issued it.
        at: optional ``datetime`` to evaluate at (defaults to now).

    Returns:
        ``CertificateStatus(valid, reason, holder)``: ``reason`` is ``ok``, ``unparseable``,
        ``unknown_certificate``, ``bad_signature``, ``ca_expired``, ``not_yet_valid``, ``expired`` or
        ``revoked``; ``holder`` is the ``IssuedCertificate`` row (with ``subscriber``/``device``) when known.
    """
    now = at or timezone.now()
    if not isinstance(certificate, x509.Certificate):
        try:
            certificate = load_cert(certificate)
        except ValueError:
            return CertificateStatus(False, "unparseable", None)
    issued = (
        IssuedCertificate.objects.select_related("ca__parent", "subscriber", "device")
        .filter(tenant=tenant, serial=serial_hex(certificate.serial_number))
        .first()
    )
    if issued is None or load_cert(issued.certificate_pem) != certificate:
        return CertificateStatus(False, "unknown_certificate", None)
    chain = ca_chain(ca=issued.ca)
    try:
        certificate.verify_directly_issued_by(chain[0])
        for child, parent in zip(chain, chain[1:], strict=False):
            child.verify_directly_issued_by(parent)
    except (InvalidSignature, ValueError, TypeError):
        return CertificateStatus(False, "bad_signature", issued)
    if any(not (ca.not_valid_before_utc <= now < ca.not_valid_after_utc) for ca in chain):
        return CertificateStatus(False, "ca_expired", issued)
    if now < certificate.not_valid_before_utc:
        return CertificateStatus(False, "not_yet_valid", issued)
    if now >= certificate.not_valid_after_utc:
        return CertificateStatus(False, "expired", issued)
    if issued.revoked_at is not None and issued.revoked_at <= now:
        return CertificateStatus(False, "revoked", issued)
    return CertificateStatus(True, "ok", issued)
