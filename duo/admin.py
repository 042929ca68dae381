"""Django admin: the Universal Prompt redirect URIs of each application (tenant-scoped)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from audit.services import audit_record
from duo.models import RedirectUri
from duo.redirects import RedirectUriInvalidError, redirect_uri_validate
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
        super().save_model(request, obj, form, change)
        audit_record(
            kind="duo.redirect_uri_added",
            tenant_id=obj.application.tenant_id,
            actor=admin_actor(request),
            detail={"ikey": obj.application.integration_key, "uri": obj.uri},
        )
