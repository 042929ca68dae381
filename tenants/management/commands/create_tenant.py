"""Create a tenant and print ``{"slug": ...}``."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mfa_server.errors import DomainError
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (organisation). Prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_create(name=options["name"], slug=options["slug"])
        except DomainError as exc:
            raise CommandError(json.dumps({"code": exc.code, "detail": exc.message})) from exc
        self.stdout.write(json.dumps({"slug": tenant.slug, "name": tenant.name}))
