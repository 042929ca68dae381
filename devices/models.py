"""Enrolled authenticators and the single-use activation codes that create them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Enrollment(models.Model):
    """A single-use activation code (stored as a keyed hash) that lets one phone enrol for a subscriber."""

    subscriber = models.ForeignKey("tenants.Subscriber", on_delete=models.CASCADE, related_name="enrollments")
    code_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    device = models.OneToOneField("devices.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"enrolment of {self.subscriber} ({self.status})"

    @property
    def status(self) -> str:
        if self.used_at:
            return "used"
        return "expired" if self.expires_at <= timezone.now() else "pending"


class Device(models.Model):
    """A phone holding either a P-256 app key that signs decisions, or a WebAuthn platform credential."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        REVOKED = "revoked"

    class Kind(models.TextChoices):
        APP_KEY = "app_key", "App key (ECDSA P-256 proofs)"
        WEBAUTHN = "webauthn", "WebAuthn platform credential (approver web app)"

    subscriber = models.ForeignKey("tenants.Subscriber", on_delete=models.CASCADE, related_name="devices")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.APP_KEY)
    name = models.CharField(max_length=100)
    platform = models.CharField(max_length=40, blank=True)
    public_key_pem = models.TextField(blank=True, help_text="SubjectPublicKeyInfo of an app-key device's P-256 key.")
    token_hash = models.CharField(max_length=64, unique=True, help_text="Keyed hash of the device API token.")
    fcm_token = models.CharField(max_length=4096, blank=True)
    webpush_subscription = models.JSONField(
        default=dict, blank=True, help_text="Web Push subscription of the approver web app: endpoint and keys."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.subscriber.username})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class WebAuthnCredential(models.Model):
    """The platform credential of a WebAuthn device, as verified at registration (py_webauthn)."""

    device = models.OneToOneField(Device, on_delete=models.CASCADE, related_name="webauthn_credential")
    credential_id = models.CharField(max_length=1400, unique=True, help_text="base64url credential id.")
    public_key = models.BinaryField(help_text="COSE public key.")
    sign_count = models.PositiveBigIntegerField(default=0)
    aaguid = models.CharField(max_length=36, blank=True)
    transports = models.JSONField(default=list, blank=True)
    attestation_format = models.CharField(max_length=20, blank=True)
    attestation_object = models.BinaryField(null=True, blank=True, help_text="Kept only when attestation is requested.")
    backup_eligible = models.BooleanField(default=False)
    backed_up = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"WebAuthn credential of {self.device}"


class WebAuthnChallenge(models.Model):
    """A server-side, single-use, short-lived WebAuthn challenge bound to what it authorises.

    Registration challenges are bound to an enrolment; decision challenges to a device, a transaction and
    a decision, so an assertion made to approve one request can neither approve another nor deny.
    """

    class Purpose(models.TextChoices):
        REGISTER = "register"
        DECIDE = "decide"
        MANAGE = "manage"  # a change to the device itself (removing it): ``decision`` names the action

    challenge = models.CharField(max_length=100, unique=True, help_text="base64url of the random challenge.")
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    enrollment = models.ForeignKey(Enrollment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    approval_id = models.UUIDField(null=True, blank=True)
    decision = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.purpose} challenge {self.pk}"
