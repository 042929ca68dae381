"""Writes: create/import CAs, issue/renew/revoke client certificates, publish CRLs. Every issuance and
revocation is audited (``pki.*`` kinds); no key material is ever logged or put in audit details."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from approvals.models import Application
from audit.services import audit_record
from devices.models import Device
from devices.proofs import verify_signature
from pki import keys
from pki.builders import (
    Holder,
    RevokedEntry,
    build_ca_certificate,
    build_client_certificate,
    build_crl,
    cert_pem,
    check_client_public_key,
    load_cert,
    load_csr,
    pkcs12_bundle,
    public_key_sha256,
    serial_hex,
)
from pki.exceptions import (
    CaExpiredError,
    CaImportInvalidError,
    CaNotIssuingError,
    CertificateAlreadyRevokedError,
    CertificateProofInvalidError,
    CertificateRevokedError,
    HolderInvalidError,
    P12PasswordTooShortError,
    SubscriberInactiveError,
)
from pki.models import CertificateAuthority, IssuedCertificate
from pki.selectors import ca_chain, ca_issuing_for_tenant, crl_url, ocsp_url
from tenants.models import Subscriber, Tenant

logger = logging.getLogger(__name__)

# Issued certificates start slightly in the past so a client clock a little behind still accepts them.
BACKDATE = timedelta(minutes=5)


def _name(tenant: Tenant, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, tenant.name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, tenant.slug[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def _store_ca(
    *,
    tenant: Tenant,
    name: str,
    kind: str,
    parent: CertificateAuthority | None,
    cert: x509.Certificate,
    key: keys.SigningKey,
    is_issuing: bool,
    is_imported: bool = False,
    issuer_chain_pem: str = "",
    actor: str = "",
) -> CertificateAuthority:
    return CertificateAuthority.objects.create(
        tenant=tenant,
        name=name,
        kind=kind,
        parent=parent,
        algorithm=keys.algorithm_of(key),
        certificate_pem=cert_pem(cert),
        issuer_chain_pem=issuer_chain_pem,
        encrypted_private_key=keys.encrypt_private_key(key),
        serial=serial_hex(cert.serial_number),
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        is_issuing=is_issuing,
        is_imported=is_imported,
        created_by=actor,
    )


def ca_create_hierarchy(
    *,
    tenant: Tenant,
    algorithm: str = keys.EC_P256,
    name: str | None = None,
    actor: str = "",
    root_validity_days: int | None = None,
    issuing_validity_days: int | None = None,
) -> tuple[CertificateAuthority, CertificateAuthority]:
    """Create a root CA and an issuing CA signed by it, publish both CRLs; returns ``(root, issuing)``.

    Raises:
        ValueError: unknown ``algorithm``.
    """
    base = name or tenant.display_name
    now = timezone.now()
    root_days = root_validity_days or settings.MFA_PKI_ROOT_VALIDITY_DAYS
    issuing_days = min(issuing_validity_days or settings.MFA_PKI_ISSUING_VALIDITY_DAYS, root_days)
    root_key = keys.generate_private_key(algorithm)
    issuing_key = keys.generate_private_key(algorithm)
    root_cert = build_ca_certificate(
        subject=_name(tenant, f"{base} Root CA"),
        public_key=root_key.public_key(),
        issuer_cert=None,
        issuer_key=root_key,
        not_before=now - BACKDATE,
        not_after=now + timedelta(days=root_days),
        path_length=1,
    )
    with transaction.atomic():
        root = _store_ca(
            tenant=tenant,
            name=f"{base} Root CA",
            kind="root",
            parent=None,
            cert=root_cert,
            key=root_key,
            is_issuing=False,
            actor=actor,
        )
        # The issuing CA's CRL distribution point is the root's CRL.
        issuing_cert = build_ca_certificate(
            subject=_name(tenant, f"{base} Issuing CA"),
            public_key=issuing_key.public_key(),
            issuer_cert=root_cert,
            issuer_key=root_key,
            not_before=now - BACKDATE,
            not_after=min(now + timedelta(days=issuing_days), root_cert.not_valid_after_utc),
            path_length=0,
            crl_url=crl_url(ca=root),
        )
        issuing = _store_ca(
            tenant=tenant,
            name=f"{base} Issuing CA",
            kind="intermediate",
            parent=root,
            cert=issuing_cert,
            key=issuing_key,
            is_issuing=True,
            actor=actor,
        )
        crl_publish(ca=root)
        crl_publish(ca=issuing)
        audit_record(
            kind="pki.ca_created",
            tenant_id=tenant.pk,
            actor=actor,
            detail={"root": root.serial, "issuing": issuing.serial, "algorithm": algorithm},
        )
    return root, issuing


def ca_import(
    *,
    tenant: Tenant,
    certificate_pem: str | bytes,
    private_key_pem: str | bytes,
    key_password: str | None = None,
    chain_pem: str | bytes = "",
    name: str | None = None,
    actor: str = "",
) -> CertificateAuthority:
    """Import an existing CA (certificate + matching private key) as an issuing CA of ``tenant``.

    ``chain_pem`` may carry the certificates above it (up to the root) for chain downloads.

    Raises:
        CaImportInvalidError: unparseable input, not a CA, key does not match, wrong password.
        CaExpiredError: the certificate has expired.
    """
    try:
        cert = load_cert(certificate_pem)
        raw_key = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        key = serialization.load_pem_private_key(raw_key, password=key_password.encode() if key_password else None)
        raw_chain = chain_pem.encode() if isinstance(chain_pem, str) else chain_pem
        chain = x509.load_pem_x509_certificates(raw_chain) if raw_chain.strip() else []
    except (ValueError, TypeError) as exc:
        raise CaImportInvalidError() from exc
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise CaImportInvalidError("The certificate is not a CA certificate (no BasicConstraints).") from None
    if not constraints.ca:
        raise CaImportInvalidError("The certificate is not a CA certificate (CA:FALSE).")
    if key.public_key() != cert.public_key():
        raise CaImportInvalidError("The private key does not belong to the certificate.")
    if cert.not_valid_after_utc <= timezone.now():
        raise CaExpiredError()
    is_root = cert.issuer == cert.subject
    with transaction.atomic():
        ca = _store_ca(
            tenant=tenant,
            name=name or cert.subject.rfc4514_string()[:200],
            kind="root" if is_root else "intermediate",
            parent=None,
            cert=cert,
            key=key,  # type: ignore[arg-type]
            is_issuing=True,
            is_imported=True,
            issuer_chain_pem="".join(cert_pem(c) for c in chain),
            actor=actor,
        )
        crl_publish(ca=ca)
        audit_record(kind="pki.ca_imported", tenant_id=tenant.pk, actor=actor, detail={"ca": ca.serial})
    return ca


def _check_holder(
    tenant: Tenant, subscriber: Subscriber | None, device: Device | None, application: Application | None = None
) -> Holder:
    if application is not None:
        # A relying service's certificate names the application only (no subscriber, no device).
        if application.tenant_id != tenant.pk or subscriber is not None or device is not None:
            raise HolderInvalidError()
        return Holder(
            tenant_slug=tenant.slug,
            tenant_name=tenant.name,
            username="",
            application_key=application.integration_key,
        )
    if subscriber is None or subscriber.tenant_id != tenant.pk:
        raise HolderInvalidError()
    if device is not None and device.subscriber_id != subscriber.pk:
        raise HolderInvalidError()
    return Holder(
        tenant_slug=tenant.slug,
        tenant_name=tenant.name,
        username=subscriber.username,
        device_id=device.pk if device else None,
    )


def _usable_ca(tenant: Tenant, ca: CertificateAuthority | None) -> CertificateAuthority:
    ca = ca or ca_issuing_for_tenant(tenant=tenant)
    if ca.tenant_id != tenant.pk or not ca.is_issuing:
        raise CaNotIssuingError()
    if ca.is_expired:
        raise CaExpiredError()
    return ca


def _issue(
    *,
    tenant: Tenant,
    subscriber: Subscriber | None,
    device: Device | None,
    public_key: CertificatePublicKeyTypes,
    source: str,
    validity_days: int | None,
    actor: str,
    ca: CertificateAuthority | None,
    renewed_from: IssuedCertificate | None = None,
    ip: str | None = None,
    application: Application | None = None,
) -> tuple[IssuedCertificate, x509.Certificate]:
    holder = _check_holder(tenant, subscriber, device, application)
    ca = _usable_ca(tenant, ca)
    issuer_cert = load_cert(ca.certificate_pem)
    issuer_key = keys.decrypt_private_key(ca.encrypted_private_key)
    now = timezone.now()
    # A certificate never outlives its CA (RFC 5280 chains would fail past that point anyway).
    not_after: datetime = min(
        now + timedelta(days=validity_days or settings.MFA_PKI_CERT_VALIDITY_DAYS), issuer_cert.not_valid_after_utc
    )
    cert = build_client_certificate(
        holder=holder,
        public_key=public_key,
        issuer_cert=issuer_cert,
        issuer_key=issuer_key,
        not_before=max(now - BACKDATE, issuer_cert.not_valid_before_utc),
        not_after=not_after,
        crl_url=crl_url(ca=ca),
        ocsp_url=ocsp_url(ca=ca),
    )
    with transaction.atomic():
        issued = IssuedCertificate.objects.create(
            tenant=tenant,
            ca=ca,
            subscriber=subscriber,
            device=device,
            application=application,
            holder=holder.label,
            serial=serial_hex(cert.serial_number),
            subject=cert.subject.rfc4514_string(),
            san_uri=holder.uri,
            certificate_pem=cert_pem(cert),
            public_key_sha256=public_key_sha256(public_key),
            source=source,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            renewed_from=renewed_from,
            created_by=actor,
        )
        audit_record(
            kind="pki.certificate_issued",
            tenant_id=tenant.pk,
            actor=actor,
            subscriber_id=subscriber.pk if subscriber else None,
            device_id=device.pk if device else None,
            ip=ip,
            detail={
                "serial": issued.serial,
                "ca": ca.serial,
                "source": source,
                "san_uri": issued.san_uri,
                **({"application": application.integration_key} if application else {}),
                "not_after": issued.not_after.isoformat(),
                **({"renewed_from": renewed_from.serial} if renewed_from else {}),
            },
        )
    logger.info("issued client certificate serial=%s tenant=%s holder=%s", issued.serial, tenant.slug, holder.label)
    return issued, cert


def certificate_issue_from_csr(
    *,
    tenant: Tenant,
    subscriber: Subscriber | None,
    csr: str | bytes,
    device: Device | None = None,
    validity_days: int | None = None,
    actor: str = "",
    ca: CertificateAuthority | None = None,
    source: str = IssuedCertificate.Source.CSR,
    ip: str | None = None,
    application: Application | None = None,
) -> IssuedCertificate:
    """Issue a client certificate for the key in a CSR (the private key never reaches the server).

    The CSR's self-signature is verified; its subject and extensions are ignored (the CA sets them).
    With ``application`` (and no subscriber) the certificate is a relying service's own
    (SAN ``urn:mfa:<tenant>:app:<integration key>``).

    Raises:
        CsrInvalidError, CsrSignatureInvalidError, KeyNotAllowedError: bad CSR.
        HolderInvalidError: subscriber/device/application not in ``tenant``, or both a subscriber and an application.
        CaNotFoundError, CaExpiredError, CaNotIssuingError: no CA can issue.
    """
    request = load_csr(csr)
    issued, _ = _issue(
        tenant=tenant,
        subscriber=subscriber,
        device=device,
        public_key=request.public_key(),
        source=source,
        validity_days=validity_days,
        actor=actor,
        ca=ca,
        ip=ip,
        application=application,
    )
    return issued


@dataclass(frozen=True)
class IssuedBundle:
    """A server-generated certificate and its PKCS#12; the bundle exists only in this object."""

    certificate: IssuedCertificate
    pkcs12: bytes


def certificate_issue_pkcs12(
    *,
    tenant: Tenant,
    subscriber: Subscriber | None,
    password: str,
    device: Device | None = None,
    algorithm: str = keys.EC_P256,
    validity_days: int | None = None,
    actor: str = "",
    ca: CertificateAuthority | None = None,
    application: Application | None = None,
    source: str = IssuedCertificate.Source.SERVER_KEY,
    ip: str | None = None,
) -> IssuedBundle:
    """Generate a key on the server, issue a certificate and return both (with the CA chain) as a PKCS#12
    encrypted with ``password``. The private key is not stored: the bundle is delivered once.

    Raises:
        P12PasswordTooShortError: password shorter than ``MFA_PKI_P12_MIN_PASSWORD_LENGTH``.
        HolderInvalidError, CaNotFoundError, CaExpiredError, CaNotIssuingError: as for CSR issuance.
    """
    if len(password) < settings.MFA_PKI_P12_MIN_PASSWORD_LENGTH:
        raise P12PasswordTooShortError(minimum=settings.MFA_PKI_P12_MIN_PASSWORD_LENGTH)
    key = keys.generate_private_key(algorithm)
    issued, cert = _issue(
        tenant=tenant,
        subscriber=subscriber,
        device=device,
        public_key=key.public_key(),
        source=source,
        validity_days=validity_days,
        actor=actor,
        ca=ca,
        ip=ip,
        application=application,
    )
    bundle = pkcs12_bundle(name=issued.holder, key=key, cert=cert, cas=ca_chain(ca=issued.ca), password=password)
    return IssuedBundle(certificate=issued, pkcs12=bundle)


def certificate_renew(
    *,
    certificate: IssuedCertificate,
    csr: str | bytes | None = None,
    validity_days: int | None = None,
    actor: str = "",
) -> IssuedCertificate:
    """Issue a successor for the same holder from the tenant's current issuing CA.

    Without ``csr`` the successor certifies the same public key (the holder keeps their key, including one
    delivered in a PKCS#12); with ``csr`` it re-keys. The old certificate stays valid until it expires or
    is revoked.

    Raises:
        CertificateRevokedError: the certificate is revoked.
        HolderInvalidError: its subscriber no longer exists.
        CaNotFoundError, CaExpiredError: no CA can issue.
    """
    certificate.refresh_from_db()
    if certificate.revoked_at is not None:
        raise CertificateRevokedError()
    if certificate.subscriber is None and certificate.application is None:
        raise HolderInvalidError()
    public_key = load_csr(csr).public_key() if csr else load_cert(certificate.certificate_pem).public_key()
    issued, _ = _issue(
        tenant=certificate.tenant,
        subscriber=certificate.subscriber,
        device=certificate.device,
        public_key=check_client_public_key(public_key),
        source=IssuedCertificate.Source.RENEWAL,
        validity_days=validity_days,
        actor=actor,
        ca=None,
        renewed_from=certificate,
        application=certificate.application,
    )
    return issued


def certificate_revoke(
    *, certificate: IssuedCertificate, reason: str = IssuedCertificate.Reason.UNSPECIFIED, actor: str = ""
) -> IssuedCertificate:
    """Revoke with an RFC 5280 reason and re-publish the issuing CA's CRL.

    Raises:
        CertificateAlreadyRevokedError: it was already revoked (nothing is changed, nothing audited).
        ValueError: unknown reason.
    """
    if reason not in IssuedCertificate.Reason.values:
        raise ValueError(f"unknown revocation reason {reason!r}")
    with transaction.atomic():
        # A conditional update, so two concurrent revocations cannot both succeed.
        changed = IssuedCertificate.objects.filter(pk=certificate.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revocation_reason=reason
        )
        if not changed:
            raise CertificateAlreadyRevokedError()
        certificate.refresh_from_db()
        audit_record(
            kind="pki.certificate_revoked",
            tenant_id=certificate.tenant_id,
            actor=actor,
            subscriber_id=certificate.subscriber_id,
            device_id=certificate.device_id,
            detail={"serial": certificate.serial, "reason": reason},
        )
        crl_publish(ca=certificate.ca)
    return certificate


def crl_publish(*, ca: CertificateAuthority) -> CertificateAuthority:
    """Sign a fresh CRL (next CRLNumber) listing every revoked certificate of ``ca`` and store it."""
    with transaction.atomic():
        locked = CertificateAuthority.objects.select_for_update().get(pk=ca.pk)
        revoked = [
            RevokedEntry(serial=int(serial, 16), revoked_at=revoked_at, reason=reason)
            for serial, revoked_at, reason in IssuedCertificate.objects.filter(
                ca=locked, revoked_at__isnull=False
            ).values_list("serial", "revoked_at", "revocation_reason")
        ]
        now = timezone.now()
        crl = build_crl(
            issuer_cert=load_cert(locked.certificate_pem),
            issuer_key=keys.decrypt_private_key(locked.encrypted_private_key),
            crl_number=locked.crl_number + 1,
            this_update=now,
            next_update=now + timedelta(hours=settings.MFA_PKI_CRL_VALIDITY_HOURS),
            revoked=revoked,
        )
        locked.crl_number += 1
        locked.crl_der = crl.public_bytes(serialization.Encoding.DER)
        locked.crl_this_update = crl.last_update_utc
        locked.crl_next_update = crl.next_update_utc
        locked.save(update_fields=["crl_number", "crl_der", "crl_this_update", "crl_next_update"])
    ca.crl_number, ca.crl_der = locked.crl_number, locked.crl_der
    ca.crl_this_update, ca.crl_next_update = locked.crl_this_update, locked.crl_next_update
    return ca


def crl_refresh_due() -> int:
    """Worker hook: re-sign every CRL that is missing or has less than ``MFA_PKI_CRL_REFRESH_HOURS`` left.

    Returns how many CRLs were published.
    """
    horizon = timezone.now() + timedelta(hours=settings.MFA_PKI_CRL_REFRESH_HOURS)
    due = CertificateAuthority.objects.filter(Q(crl_next_update__isnull=True) | Q(crl_next_update__lt=horizon))
    published = 0
    for ca in due:
        crl_publish(ca=ca)
        published += 1
    return published


def ca_rewrap_keys() -> int:
    """Re-encrypt every CA key under the newest ``MFA_CA_KEY_ENCRYPTION_KEYS`` entry (after adding a KEK)."""
    count = 0
    for ca in CertificateAuthority.objects.all():
        CertificateAuthority.objects.filter(pk=ca.pk).update(
            encrypted_private_key=keys.rewrap_private_key(ca.encrypted_private_key)
        )
        count += 1
    return count


DEVICE_CSR_PROOF_VERSION = "mfa-pki-csr-v1"


def device_csr_payload(*, device_id: int, csr: str | bytes, timestamp: int) -> bytes:
    """The exact bytes a device signs to request a certificate for a CSR (binds device, CSR and time)."""
    request = load_csr(csr)
    digest = hashlib.sha256(request.public_bytes(serialization.Encoding.DER)).hexdigest()
    return "\n".join([DEVICE_CSR_PROOF_VERSION, str(device_id), digest, str(timestamp)]).encode()


def certificate_issue_for_device(
    *, device: Device, csr: str | bytes, timestamp: int, signature: str, client_ip: str | None = None
) -> IssuedCertificate:
    """Enrol the machine a user is on: issue a certificate for ``csr`` bound to ``device``.

    The request must carry a fresh signature by the device's enrolled P-256 key (which the approval client
    only uses after a biometric check) over :func:`device_csr_payload`; each proof works once.

    Raises:
        CsrInvalidError, CsrSignatureInvalidError, KeyNotAllowedError: bad CSR.
        CertificateProofInvalidError: stale, invalid or replayed device signature.
        CaNotFoundError, CaExpiredError: the tenant cannot issue.
    """
    from approvals.services import proof_consume  # the shared one-time-proof ledger, pruned by the worker

    payload = device_csr_payload(device_id=device.pk, csr=csr, timestamp=timestamp)
    fresh = abs(timezone.now().timestamp() - timestamp) <= settings.MFA_PROOF_SKEW_SECONDS
    signed = verify_signature(public_key_pem=device.public_key_pem, payload=payload, signature_b64=signature)
    if not (fresh and signed):
        raise CertificateProofInvalidError()
    if not proof_consume(hashlib.sha256(payload).hexdigest()):
        raise CertificateProofInvalidError("This device signature was already used.")
    subscriber = device.subscriber
    if subscriber.is_blocked:
        raise SubscriberInactiveError()
    return certificate_issue_from_csr(
        tenant=subscriber.tenant,
        subscriber=subscriber,
        device=device,
        csr=csr,
        actor=f"device:{device.pk}",
        source=IssuedCertificate.Source.DEVICE_API,
        ip=client_ip,
    )
