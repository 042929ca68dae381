from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from audit.services import audit_record
from devices.services import enrollment_create
from fallbacks import lockout
from mfa_server.admin_tools import TenantScopedAdmin, admin_actor, shown_once_response
from tenants.models import Subscriber, Tenant, TenantMembership


class TenantMembershipInline(admin.TabularInline):
    model = TenantMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_path = ""
    list_display = ["name", "slug", "brand_name", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TenantMembershipInline]
    readonly_fields = ["approver_preview"]
    fieldsets = [
        (None, {"fields": ["name", "slug"]}),
        (
            "Approver web app branding",
            {
                "description": "Applied at once to the web app and its install manifest; no rebuild needed.",
                "fields": [
                    "brand_name",
                    "brand_primary_color",
                    "brand_background_color",
                    "brand_logo",
                    "support_contact",
                    "app_name",
                    "app_short_name",
                    "approver_preview",
                ],
            },
        ),
    ]

    @admin.display(description="Preview")
    def approver_preview(self, obj: Tenant) -> str:
        if not obj.pk:
            return "Save first."
        link = '<a href="/approver/?tenant={}" target="_blank" rel="noopener">Open the branded web app</a>'
        return format_html(link, obj.slug)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return self.inlines if request.user.is_superuser else []


def _set_status(request: HttpRequest, queryset: QuerySet[Subscriber], status: str) -> None:
    for subscriber in queryset:
        if subscriber.status != status:
            Subscriber.objects.filter(pk=subscriber.pk).update(status=status, failed_attempts=0)
            if status == Subscriber.Status.ACTIVE:
                # "Unlock" here too: without this a subscriber locked by wrong codes kept the streak
                # (and its back-off), and the next typo locked them again (as fallbacks' unlock does).
                lockout.streak_clear(subscriber=subscriber)
            audit_record(
                kind="subscriber.status_changed",
                tenant_id=subscriber.tenant_id,
                actor=admin_actor(request),
                subscriber_id=subscriber.pk,
                detail={"from": subscriber.status, "to": status},
            )


@admin.register(Subscriber)
class SubscriberAdmin(TenantScopedAdmin):
    list_display = ["username", "tenant", "status", "failed_attempts", "created_at"]
    list_filter = ["status", "tenant"]
    search_fields = ["username", "display_name"]
    readonly_fields = ["status", "failed_attempts", "created_at"]
    actions = ["activate", "disable", "bypass", "issue_enrollment"]

    @admin.action(description="Activate / unlock (resets failures)")
    def activate(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        _set_status(request, queryset, Subscriber.Status.ACTIVE)

    @admin.action(description="Disable (every login denied)")
    def disable(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        _set_status(request, queryset, Subscriber.Status.DISABLED)

    @admin.action(description="Bypass second factor (audited)")
    def bypass(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> None:
        _set_status(request, queryset, Subscriber.Status.BYPASS)

    @admin.action(description="Issue an activation code (shows link and QR)")
    def issue_enrollment(self, request: HttpRequest, queryset: QuerySet[Subscriber]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one subscriber.", level=messages.WARNING)
            return None
        issued = enrollment_create(subscriber=queryset.get(), created_by=admin_actor(request))
        return shown_once_response(
            request,
            title=f"Activation code for {issued.enrollment.subscriber}",
            items=[
                ("Activation code", issued.activation_code),
                ("Activation link", issued.activation_url),
                ("Expires", issued.enrollment.expires_at.isoformat()),
            ],
            back_url=request.get_full_path(),
            qr_data=issued.activation_url,
        )
