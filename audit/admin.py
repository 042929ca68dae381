from __future__ import annotations

from django.contrib import admin

from audit.models import AuditEvent
from mfa_server.admin_tools import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "tenant", "actor", "subscriber_id", "approval_id", "ip", "seq"]
    list_filter = ["kind", "tenant"]
    search_fields = ["kind", "actor", "approval_id"]
