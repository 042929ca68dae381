"""Django admin: the Universal Prompt redirect URIs of each application (tenant-scoped)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from duo.models import RedirectUri
from duo.redirects import RedirectUriInvalidError, redirect_uri_audit, redirect_uri_validate
from mfa_server.admin_tools import TenantScopedAdmin, admin_actor


class RedirectUriForm(forms.ModelForm):
    class Meta:
        model = RedirectUri
        fields = ["application", "uri"]

    def clean_uri(self) -> str:
        uri = self.cleaned_data["uri"]
        try:
            redirect_uri_validate(uri)
        except RedirectUriInvalidError as exc:
            raise ValidationError(exc.message) from exc
        return uri


@admin.register(RedirectUri)
class RedirectUriAdmin(TenantScopedAdmin):
    form = RedirectUriForm
    tenant_path = "application__tenant"
    list_display = ["uri", "application", "created_at"]
    list_filter = ["application__tenant"]
    search_fields = ["uri", "application__name", "application__integration_key"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # An edit replaces a URI that codes may be sent to: audit the old one as removed, not only the new one.
        before = RedirectUri.objects.select_related("application").filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        actor = admin_actor(request)
        if before is not None and (before.application_id, before.uri) == (obj.application_id, obj.uri):
            return
        if before is not None:
            redirect_uri_audit(
                kind="duo.redirect_uri_removed", application=before.application, uri=before.uri, actor=actor
            )
        redirect_uri_audit(kind="duo.redirect_uri_added", application=obj.application, uri=obj.uri, actor=actor)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        redirect_uri_audit(
            kind="duo.redirect_uri_removed", application=obj.application, uri=obj.uri, actor=admin_actor(request)
        )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in list(queryset.select_related("application")):
            self.delete_model(request, obj)
