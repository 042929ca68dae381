from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from devices.models import Device, Enrollment, WebAuthnCredential
from devices.services import device_revoke, enrollment_expire
from mfa_server.admin_tools import TenantScopedAdmin, admin_actor


class WebAuthnCredentialInline(admin.StackedInline):
    """The approver web app's platform credential (read-only: created by WebAuthn registration)."""

    model = WebAuthnCredential
    can_delete = False
    extra = 0
    fields = ["credential_id", "aaguid", "sign_count", "transports", "attestation_format", "backed_up", "last_used_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Device)
class DeviceAdmin(TenantScopedAdmin):
    tenant_path = "subscriber__tenant"
    list_display = ["name", "subscriber", "kind", "platform", "status", "created_at", "last_seen_at"]
    list_filter = ["status", "kind", "platform"]
    search_fields = ["name", "subscriber__username"]
    fields = [
        "name", "subscriber", "kind", "platform", "status", "has_push_token", "has_webpush",
        "created_at", "last_seen_at", "revoked_at",
    ]  # fmt: skip
    readonly_fields = [
        "subscriber", "kind", "platform", "status", "has_push_token", "has_webpush",
        "created_at", "last_seen_at", "revoked_at",
    ]  # fmt: skip
    inlines = [WebAuthnCredentialInline]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # devices are created only by activation

    @admin.display(boolean=True, description="FCM token")
    def has_push_token(self, obj: Device) -> bool:
        return bool(obj.fcm_token)

    @admin.display(boolean=True, description="Web Push")
    def has_webpush(self, obj: Device) -> bool:
        return bool(obj.webpush_subscription)

    @admin.action(description="Revoke (the device can no longer approve)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        revoked = sum(device_revoke(device=device, actor=admin_actor(request)) for device in queryset)
        self.message_user(request, f"Revoked {revoked} device(s).")


@admin.register(Enrollment)
class EnrollmentAdmin(TenantScopedAdmin):
    tenant_path = "subscriber__tenant"
    list_display = ["subscriber", "status", "expires_at", "used_at", "created_by", "created_at"]
    search_fields = ["subscriber__username"]
    readonly_fields = ["subscriber", "expires_at", "used_at", "device", "created_by", "created_at"]
    exclude = ["code_hash"]
    actions = ["expire"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issued from a subscriber ("Issue an activation code") so the code can be shown once

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Expire now")
    def expire(self, request: HttpRequest, queryset: QuerySet[Enrollment]) -> None:
        for enrollment in queryset.select_related("subscriber"):
            enrollment_expire(enrollment=enrollment, actor=admin_actor(request))
