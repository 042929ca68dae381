"""Organisations (tenants), the admins who belong to them, and their end users (subscribers)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Tenant(models.Model):
    """An organisation served by this installation, with its branding."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    brand_name = models.CharField(max_length=100, blank=True, help_text="Shown to users; defaults to the name.")
    brand_primary_color = models.CharField(max_length=7, default="#1d4ed8")
    support_contact = models.CharField(max_length=200, blank=True)
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

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "username"], name="unique_subscriber_username")]

    def __str__(self) -> str:
        return f"{self.username} ({self.tenant.slug})"
