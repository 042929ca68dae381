from __future__ import annotations

from django.contrib import admin

from mfa_server.admin_tools import TenantScopedAdmin
from policies.models import Policy


@admin.register(Policy)
class PolicyAdmin(TenantScopedAdmin):
    list_display = ["__str__", "tenant", "application", "number_matching", "require_user_verification", "updated_at"]
    list_filter = ["tenant"]
