"""Fallback factors: device TOTP secrets, one-time codes (session / SMS), bypass codes, phone numbers.

Every code is stored as a keyed hash (``mfa_server.crypto.hash_token``); TOTP secrets are encrypted at
rest. A session code also keeps a Fernet-encrypted copy so the subscriber's own devices can fetch it
over their authenticated channel; that copy is wiped as soon as the code is used, replaced or expired.
"""

from __future__ import annotations

from django.db import models

from tenants.models import Subscriber


class DeviceTotp(models.Model):
    """The RFC 6238 secret of one device, provisioned once over the device's authenticated channel."""

    device = models.OneToOneField("devices.Device", on_delete=models.CASCADE, related_name="totp")
    secret_encrypted = models.TextField(
        help_text="Base32 TOTP secret, Fernet-encrypted with MFA_SECRET_ENCRYPTION_KEYS."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "device passcode secret"

    def __str__(self) -> str:
        return f"passcode secret of device {self.device_id}"


class UsedTotpStep(models.Model):
    """A TOTP time step already accepted for a device: the same step is never accepted twice."""

    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="+")
    step = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "step"], name="unique_used_totp_step")]


class OneTimeCode(models.Model):
    """A short-lived single-use code bound to one transaction (session code or SMS code)."""

    class Factor(models.TextChoices):
        SESSION_CODE = "session_code"
        SMS = "sms"

    approval = models.ForeignKey("approvals.ApprovalRequest", on_delete=models.CASCADE, related_name="one_time_codes")
    factor = models.CharField(max_length=20, choices=Factor.choices)
    code_hash = models.CharField(max_length=64)
    code_encrypted = models.TextField(blank=True, help_text="Session codes only, until used / replaced / expired.")
    attempts = models.PositiveIntegerField(default=0, help_text="Wrong tries so far.")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True, help_text="Replaced by a newer code or burnt.")

    class Meta:
        indexes = [models.Index(fields=["approval", "used_at", "invalidated_at"])]

    def __str__(self) -> str:
        return f"{self.factor} code for {self.approval_id}"


class BypassCode(models.Model):
    """An admin-issued code for a subscriber without their device: limited uses, expiry, loud audit."""

    subscriber = models.ForeignKey("tenants.Subscriber", on_delete=models.CASCADE, related_name="bypass_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    uses_left = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField()
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"bypass code {self.pk} of {self.subscriber_id}"


class PhoneNumber(models.Model):
    """The number SMS codes go to (E.164, validated with ``phonenumbers``)."""

    subscriber = models.OneToOneField("tenants.Subscriber", on_delete=models.CASCADE, related_name="phone_number")
    e164 = models.CharField(max_length=20)
    region = models.CharField(max_length=2, help_text="ISO 3166 region of the number, checked against the allow-list.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.e164[:4]}…{self.e164[-2:]}"


class SmsSend(models.Model):
    """One SMS send attempt that passed the limits: the basis of cooldowns and hourly caps."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    subscriber = models.ForeignKey("tenants.Subscriber", on_delete=models.CASCADE, related_name="+")
    approval = models.ForeignKey("approvals.ApprovalRequest", null=True, on_delete=models.SET_NULL, related_name="+")
    destination_hash = models.CharField(max_length=64, db_index=True, help_text="Keyed hash of the E.164 number.")
    region = models.CharField(max_length=2)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    provider_id = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["subscriber", "created_at"]), models.Index(fields=["tenant", "created_at"])]


class SubscriberBackoff(models.Model):
    """A subscriber's streak of consecutive wrong codes, and when the next try is allowed.

    Kept apart from ``Subscriber.failed_attempts``, which the policy engine reads as fraud strikes
    (a few typos must not count as fraud reports). Any approved login ends the streak.
    """

    subscriber = models.OneToOneField("tenants.Subscriber", on_delete=models.CASCADE, related_name="fallback_backoff")
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)


class SubscriberAccess(Subscriber):
    """Admin entry point (a proxy of the subscriber): issue bypass codes, unlock after lockout."""

    class Meta:
        proxy = True
        verbose_name = "subscriber access (bypass codes, lockout)"
        verbose_name_plural = "subscriber access (bypass codes, lockout)"
