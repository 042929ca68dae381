"""Seal pending audit events, then re-hash every chain and name the first broken link."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_seal, audit_verify


class Command(BaseCommand):
    help = "Verify the hash-chained audit trail; exits non-zero and names the first broken link when tampered."

    def handle(self, *args: Any, **options: Any) -> None:
        sealed = audit_seal()
        checked, breaks = audit_verify()
        result = {
            "ok": not breaks,
            "events_checked": checked,
            "newly_sealed": sealed,
            "breaks": [b.__dict__ for b in breaks],
        }
        self.stdout.write(json.dumps(result))
        if breaks:
            first = breaks[0]
            raise CommandError(
                f"audit chain broken at tenant={first.tenant_id} seq={first.seq} event={first.event_id}: {first.reason}"
            )
