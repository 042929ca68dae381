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
    """A phone (or the reference client) holding a P-256 key that signs decisions."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        REVOKED = "revoked"

    subscriber = models.ForeignKey("tenants.Subscriber", on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=100)
    platform = models.CharField(max_length=40, blank=True)
    public_key_pem = models.TextField(help_text="SubjectPublicKeyInfo of the device's P-256 key.")
    token_hash = models.CharField(max_length=64, unique=True, help_text="Keyed hash of the device API token.")
    fcm_token = models.CharField(max_length=4096, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.subscriber.username})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE
