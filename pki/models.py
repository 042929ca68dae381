"""Per-tenant certificate authorities and the client certificates they issue.

Private keys are stored only as Fernet tokens (``MFA_CA_KEY_ENCRYPTION_KEYS``); keys generated for
subscribers are never stored at all (they leave once, inside a password-protected PKCS#12).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class CertificateAuthority(models.Model):
    """A root or issuing CA of one tenant, created here or imported with its key."""

    class Kind(models.TextChoices):
        ROOT = "root"
        INTERMEDIATE = "intermediate"

    class Algorithm(models.TextChoices):
        EC_P256 = "ec-p256", "ECDSA P-256"
        RSA_3072 = "rsa-3072", "RSA 3072"
        OTHER = "other", "Other (imported)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Stable id in CRL URLs.")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="certificate_authorities")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    algorithm = models.CharField(max_length=10, choices=Algorithm.choices)
    certificate_pem = models.TextField()
    issuer_chain_pem = models.TextField(blank=True, help_text="Certificates above an imported CA (no keys).")
    encrypted_private_key = models.TextField(help_text="Fernet token of the PKCS#8 key; never plaintext.")
    serial = models.CharField(max_length=64)
    subject = models.CharField(max_length=500)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    is_issuing = models.BooleanField(default=False, help_text="Signs client certificates.")
    is_imported = models.BooleanField(default=False)
    crl_number = models.PositiveBigIntegerField(default=0)
    crl_der = models.BinaryField(null=True, blank=True)
    crl_this_update = models.DateTimeField(null=True, blank=True)
    crl_next_update = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "certificate authority"
        verbose_name_plural = "certificate authorities"
        ordering = ["tenant_id", "-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def is_expired(self) -> bool:
        return self.not_after <= timezone.now()


class IssuedCertificate(models.Model):
    """A client certificate for a subscriber (optionally bound to one of their devices) or an application."""

    class Source(models.TextChoices):
        CSR = "csr", "From a CSR"
        SERVER_KEY = "server_key", "Server-generated key (PKCS#12)"
        DEVICE_API = "device_api", "CSR via the device API"
        RENEWAL = "renewal", "Renewal"
        APPROVER = "approver", "Approval client (PKCS#12 after a WebAuthn check)"

    class Reason(models.TextChoices):
        """RFC 5280 CRLReason values that make sense for client certificates."""

        UNSPECIFIED = "unspecified"
        KEY_COMPROMISE = "key_compromise"
        AFFILIATION_CHANGED = "affiliation_changed"
        SUPERSEDED = "superseded"
        CESSATION_OF_OPERATION = "cessation_of_operation"
        CERTIFICATE_HOLD = "certificate_hold"
        PRIVILEGE_WITHDRAWN = "privilege_withdrawn"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="issued_certificates")
    ca = models.ForeignKey(CertificateAuthority, on_delete=models.PROTECT, related_name="certificates")
    subscriber = models.ForeignKey(
        "tenants.Subscriber", null=True, blank=True, on_delete=models.SET_NULL, related_name="certificates"
    )
    device = models.ForeignKey(
        "devices.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="certificates"
    )
    application = models.ForeignKey(
        "approvals.Application",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="certificates",
        help_text="A relying service's own certificate (service-to-service mTLS); no subscriber then.",
    )
    holder = models.CharField(max_length=300, help_text="Username (and device) at issuance; kept if they go.")
    serial = models.CharField(max_length=64, unique=True, help_text="Upper-case hex.")
    subject = models.CharField(max_length=500)
    san_uri = models.CharField(max_length=500)
    certificate_pem = models.TextField()
    public_key_sha256 = models.CharField(max_length=64, db_index=True)
    source = models.CharField(max_length=12, choices=Source.choices)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=30, choices=Reason.choices, blank=True)
    renewed_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="renewals")
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["ca", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.serial} ({self.holder})"

    @property
    def status(self) -> str:
        """``revoked``, ``expired``, ``not_yet_valid`` or ``valid`` (revocation wins)."""
        now = timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.not_after <= now:
            return "expired"
        if self.not_before > now:
            return "not_yet_valid"
        return "valid"
