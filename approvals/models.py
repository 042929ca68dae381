"""Relying services (applications), their approval transactions and outgoing webhooks."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Application(models.Model):
    """A relying service of a tenant (webmail, VPN, SSO) with Duo-shaped API credentials."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="applications")
    name = models.CharField(max_length=200)
    integration_key = models.CharField(max_length=20, unique=True)
    secret_encrypted = models.TextField(help_text="The secret key, Fernet-encrypted with MFA_SECRET_ENCRYPTION_KEYS.")
    callback_url = models.URLField(blank=True, help_text="Signed webhook on every decision (optional).")
    approval_timeout_seconds = models.PositiveIntegerField(default=60)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.tenant.slug})"

    @property
    def api_hostname(self) -> str:
        return settings.MFA_API_HOSTNAME


class ApprovalRequest(models.Model):
    """One login approval transaction. Its status moves once, from pending to a terminal state."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        DENIED = "denied"
        FRAUD = "fraud"
        TIMEOUT = "timeout"
        CANCELLED = "cancelled"

    class Factor(models.TextChoices):
        PUSH = "push"
        WEBAUTHN = "webauthn"
        PASSCODE = "passcode"
        SESSION_CODE = "session_code"
        SMS = "sms"
        BYPASS_CODE = "bypass_code"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="approval_requests")
    subscriber = models.ForeignKey(
        "tenants.Subscriber",
        on_delete=models.CASCADE,
        related_name="approval_requests",
        db_index=False,  # the two indexes below lead with it
    )
    factor = models.CharField(max_length=20, choices=Factor.choices, default=Factor.PUSH)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_reason = models.CharField(max_length=40, blank=True)
    policy_rule = models.CharField(max_length=60, blank=True, help_text="The policy rule that decided, if one did.")
    number = models.CharField(max_length=8, blank=True, help_text="Digits the login page shows; typed on the phone.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    hostname = models.CharField(max_length=255, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    display_text = models.CharField(max_length=200, blank=True)
    login_type = models.CharField(max_length=60, blank=True)
    request_digest = models.CharField(max_length=64, null=True, blank=True)  # unique: Meta.constraints
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey("devices.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        # Every index is written on every insert and, the status being indexed, on every decision: no
        # index that another one's leading columns cover, and no ``varchar_pattern_ops`` twin (Django adds
        # one on PostgreSQL for ``unique=True`` / ``db_index=True`` text columns; nothing here uses LIKE).
        indexes = [
            # The policy's facts per subscriber: pushes in the window, the latest refusal, known networks.
            models.Index(fields=["subscriber", "created_at"]),
            models.Index(fields=["subscriber", "status", "decided_at"]),
            # The worker's sweep of pending requests past their deadline.
            models.Index(fields=["status", "expires_at"], name="approval_pending_deadline_idx"),
        ]
        constraints = [
            # One transaction per signed request (a replay finds the first); NULLs (no digest) are distinct.
            models.UniqueConstraint(fields=["request_digest"], name="approval_request_digest_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.status}"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class UsedProof(models.Model):
    """Digest of every accepted or refused device proof, so a proof can be presented only once."""

    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class WebhookDelivery(models.Model):
    """An outbox row: the decision notice for an application's callback URL, retried with back-off."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="webhooks")
    approval = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="webhooks")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.CharField(max_length=200, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
