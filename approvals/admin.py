from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from approvals.models import Application, ApprovalRequest, WebhookDelivery
from approvals.services import application_create, application_rotate_secret
from mfa_server.admin_tools import ReadOnlyAdmin, TenantScopedAdmin, admin_actor, shown_once_response


class ApplicationForm(forms.ModelForm):
    class Meta:
        model = Application
        fields = ["tenant", "name", "callback_url", "approval_timeout_seconds", "is_active"]


@admin.register(Application)
class ApplicationAdmin(TenantScopedAdmin):
    form = ApplicationForm
    list_display = ["name", "tenant", "integration_key", "is_active", "created_at"]
    list_filter = ["tenant", "is_active"]
    search_fields = ["name", "integration_key"]
    readonly_fields = ["integration_key", "api_hostname", "created_at"]
    actions = ["rotate_secret"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["tenant", "name", "callback_url", "approval_timeout_seconds", "is_active"]
        return fields + (["integration_key", "api_hostname", "created_at"] if obj else [])

    def save_model(self, request: HttpRequest, obj: Application, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = application_create(
            tenant=obj.tenant,
            name=obj.name,
            callback_url=obj.callback_url,
            approval_timeout_seconds=obj.approval_timeout_seconds,
            is_active=obj.is_active,
            actor=admin_actor(request),
        )
        obj.pk, obj.integration_key = issued.application.pk, issued.application.integration_key
        request._issued_secret = issued.secret_key  # type: ignore[attr-defined]  # shown by response_add

    def response_add(
        self, request: HttpRequest, obj: Application, post_url_continue: str | None = None
    ) -> HttpResponse:
        return shown_once_response(
            request,
            title=f"Credentials of {obj.name}",
            items=[
                ("Integration key", obj.integration_key),
                ("Secret key", request._issued_secret),  # type: ignore[attr-defined]
                ("API hostname", obj.api_hostname),
            ],
            back_url="../",
        )

    @admin.action(description="Rotate secret key (shows the new one once)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Application]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one application.", level=messages.WARNING)
            return None
        application = queryset.get()
        secret = application_rotate_secret(application=application, actor=admin_actor(request))
        return shown_once_response(
            request,
            title=f"New secret key of {application.name}",
            items=[("Integration key", application.integration_key), ("Secret key", secret)],
            back_url=request.get_full_path(),
        )


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    tenant_path = "application__tenant"
    list_display = ["id", "subscriber", "application", "status", "status_reason", "ip", "created_at", "decided_at"]
    list_filter = ["status", "application__tenant"]
    search_fields = ["subscriber__username", "id"]
    exclude = ["request_digest"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    tenant_path = "application__tenant"
    list_display = ["approval", "application", "status", "attempts", "next_attempt_at", "last_error"]
    list_filter = ["status"]
