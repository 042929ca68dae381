"""Issue an activation code for a user (created if needed) and print the link, QR URL and expiry."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devices.services import enrollment_create
from mfa_server.errors import DomainError
from tenants.selectors import tenant_get
from tenants.services import subscriber_get_or_create


class Command(BaseCommand):
    help = "Issue a single-use activation code for USER of TENANT. Prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--username", required=True)
        parser.add_argument("--ttl", type=int, default=None, help="seconds the code stays valid")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            subscriber = subscriber_get_or_create(
                tenant=tenant_get(slug=options["tenant"]), username=options["username"]
            )
        except DomainError as exc:
            raise CommandError(json.dumps({"code": exc.code, "detail": exc.message})) from exc
        issued = enrollment_create(subscriber=subscriber, created_by="cli", ttl_seconds=options["ttl"])
        self.stdout.write(
            json.dumps(
                {
                    "activation_code": issued.activation_code,
                    "activation_url": issued.activation_url,
                    "qr_url": issued.qr_url,
                    "expires_at": issued.enrollment.expires_at.isoformat(),
                }
            )
        )
