"""Organisations (tenants), the admins who belong to them, and their end users (subscribers)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tenants.branding import DEFAULT_BACKGROUND, DEFAULT_PRIMARY, hex_color, validate_logo


class Tenant(models.Model):
    """An organisation served by this installation, with its branding."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    brand_name = models.CharField(max_length=100, blank=True, help_text="Shown to users; defaults to the name.")
    brand_primary_color = models.CharField(
        max_length=7, default=DEFAULT_PRIMARY, validators=[hex_color], help_text="Buttons and header, e.g. #1d4ed8."
    )
    brand_background_color = models.CharField(
        max_length=7, default=DEFAULT_BACKGROUND, validators=[hex_color], help_text="Page background and splash screen."
    )
    brand_logo = models.FileField(
        upload_to="brand/", blank=True, validators=[validate_logo], help_text="PNG, JPEG or WebP, at most 512 KB."
    )
    support_contact = models.CharField(max_length=200, blank=True)
    app_name = models.CharField(max_length=60, blank=True, help_text="Installed app name; defaults to the brand name.")
    app_short_name = models.CharField(max_length=12, blank=True, help_text="Name under the home-screen icon.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.brand_name or self.name


class TenantMembership(models.Model):
    """Makes a staff user an admin of one tenant; such admins see only their tenants in Django admin."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="unique_tenant_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant}"


class Subscriber(models.Model):
    """An end user of a tenant who approves logins."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        BYPASS = "bypass"
        DISABLED = "disabled"
        LOCKED = "locked"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="subscribers")
    username = models.CharField(max_length=150)
    display_name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    failed_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    BLOCKED_STATUSES = (Status.DISABLED, Status.LOCKED)  # may not log in, enrol a machine or receive codes

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "username"], name="unique_subscriber_username")]

    def __str__(self) -> str:
        return f"{self.username} ({self.tenant.slug})"

    @property
    def is_blocked(self) -> bool:
        return self.status in self.BLOCKED_STATUSES
