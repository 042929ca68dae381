"""Shared Django-admin pieces: tenant scoping and the "shown once" page for secrets."""

from __future__ import annotations

import io
from typing import Any

import segno
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.core.exceptions import FieldDoesNotExist
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse


def admin_actor(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


class TenantScopedAdmin(admin.ModelAdmin):
    """Admins who belong to tenants see and pick only their tenants' objects; superusers see all."""

    tenant_path = "tenant"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        prefix = f"{self.tenant_path}__" if self.tenant_path else ""
        return queryset.filter(**{f"{prefix}memberships__user": request.user}).distinct()

    def get_list_filter(self, request: HttpRequest) -> Any:
        """Relation filters (e.g. by tenant) offer only values from the admin's own objects, not every tenant's."""
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [self._related_only(entry) for entry in filters]

    def _related_only(self, entry: Any) -> Any:
        if not isinstance(entry, str):
            return entry
        try:
            field = get_fields_from_path(self.model, entry)[-1]
        except FieldDoesNotExist:
            return entry
        return (entry, admin.RelatedOnlyFieldListFilter) if field.is_relation else entry

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if not request.user.is_superuser and field is not None:
            model = db_field.related_model
            if model._meta.label == "tenants.Tenant":
                field.queryset = field.queryset.filter(memberships__user=request.user)
            elif hasattr(model, "tenant"):
                field.queryset = field.queryset.filter(tenant__memberships__user=request.user)
        return field


class ReadOnlyAdmin(TenantScopedAdmin):
    """For append-only records: viewable, never added, changed or deleted through the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def shown_once_response(
    request: HttpRequest, *, title: str, items: list[tuple[str, str]], back_url: str, qr_data: str | None = None
) -> TemplateResponse:
    """A page that shows freshly issued secrets (and optionally a QR code) without storing them anywhere."""
    qr_svg = ""
    if qr_data:
        buffer = io.BytesIO()
        segno.make(qr_data, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False)
        qr_svg = buffer.getvalue().decode()
    context = {
        **admin.site.each_context(request),
        "title": title,
        "items": items,
        "qr_svg": qr_svg,
        "back_url": back_url,
    }
    return TemplateResponse(request, "admin/shown_once.html", context)
