"""Admin: phone numbers, passcode secrets (reset only), bypass codes (issued once, shown once), unlock."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from fallbacks import services
from fallbacks.exceptions import PhoneNumberInvalidError
from fallbacks.models import BypassCode, DeviceTotp, PhoneNumber, SmsSend, SubscriberAccess
from mfa_server.admin_tools import ReadOnlyAdmin, TenantScopedAdmin, admin_actor, shown_once_response


class PhoneNumberForm(forms.ModelForm):
    number = forms.CharField(max_length=30, help_text="International form, e.g. +44 7700 900123.")

    class Meta:
        model = PhoneNumber
        fields = ["subscriber"]

    def clean_number(self) -> str:
        from fallbacks.sms_limits import phone_number_parse

        try:
            return phone_number_parse(self.cleaned_data["number"]).e164
        except PhoneNumberInvalidError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(PhoneNumber)
class PhoneNumberAdmin(TenantScopedAdmin):
    tenant_path = "subscriber__tenant"
    form = PhoneNumberForm
    list_display = ["subscriber", "region", "__str__", "updated_at"]
    search_fields = ["subscriber__username"]

    def save_model(self, request: HttpRequest, obj: PhoneNumber, form: Any, change: bool) -> None:
        # Through the service: validated, audited (changing the SMS number weakens MFA).
        phone = services.phone_number_set(
            subscriber=form.cleaned_data["subscriber"], number=form.cleaned_data["number"], actor=admin_actor(request)
        )
        obj.pk, obj.e164, obj.region = phone.pk, phone.e164, phone.region


@admin.register(DeviceTotp)
class DeviceTotpAdmin(ReadOnlyAdmin):
    tenant_path = "device__subscriber__tenant"
    list_display = ["device", "created_at"]
    actions = ["reset_secret"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Reset the passcode secret (the device provisions a new one)")
    def reset_secret(self, request: HttpRequest, queryset: QuerySet[DeviceTotp]) -> None:
        count = sum(services.passcode_secret_reset(device=row.device, actor=admin_actor(request)) for row in queryset)
        self.message_user(request, f"Reset {count} passcode secret(s).", messages.SUCCESS)


@admin.register(BypassCode)
class BypassCodeAdmin(ReadOnlyAdmin):
    tenant_path = "subscriber__tenant"
    list_display = ["pk", "subscriber", "uses_left", "expires_at", "revoked_at", "created_by", "created_at"]
    list_filter = ["subscriber__tenant"]


@admin.register(SmsSend)
class SmsSendAdmin(ReadOnlyAdmin):
    tenant_path = "tenant"
    list_display = ["created_at", "tenant", "subscriber", "region", "status", "provider_id", "error"]
    list_filter = ["status", "tenant"]


@admin.register(SubscriberAccess)
class SubscriberAccessAdmin(TenantScopedAdmin):
    list_display = ["username", "tenant", "status", "failed_attempts"]
    list_filter = ["status", "tenant"]
    search_fields = ["username"]
    actions = ["issue_bypass_codes", "revoke_bypass_codes", "unlock"]
    fields = ["tenant", "username", "status", "failed_attempts"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Issue bypass codes (shown once)")
    def issue_bypass_codes(self, request: HttpRequest, queryset: QuerySet[SubscriberAccess]) -> HttpResponse:
        items: list[tuple[str, str]] = []
        for subscriber in queryset.order_by("pk"):
            for code in services.bypass_codes_issue(subscriber=subscriber, actor=admin_actor(request)):
                items.append((f"{subscriber.username} ({subscriber.tenant.slug})", code))
        back = reverse("admin:fallbacks_subscriberaccess_changelist")
        return shown_once_response(request, title="Bypass codes", items=items, back_url=back)

    @admin.action(description="Revoke unused bypass codes")
    def revoke_bypass_codes(self, request: HttpRequest, queryset: QuerySet[SubscriberAccess]) -> None:
        count = sum(services.bypass_codes_revoke(subscriber=s, actor=admin_actor(request)) for s in queryset)
        self.message_user(request, f"Revoked {count} bypass code(s).", messages.SUCCESS)

    @admin.action(description="Unlock (after too many wrong codes)")
    def unlock(self, request: HttpRequest, queryset: QuerySet[SubscriberAccess]) -> None:
        count = sum(services.subscriber_unlock(subscriber=s, actor=admin_actor(request)) for s in queryset)
        self.message_user(request, f"Unlocked {count} subscriber(s).", messages.SUCCESS)
