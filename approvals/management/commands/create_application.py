"""Create a relying-service application and print its credentials (the secret is shown only here)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from approvals.services import application_create
from mfa_server.errors import DomainError
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "Create an application (relying service) for a tenant. Prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--callback-url", default="", help="signed webhook on every decision")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            issued = application_create(
                tenant=tenant_get(slug=options["tenant"]),
                name=options["name"],
                callback_url=options["callback_url"],
                actor="cli",
            )
        except DomainError as exc:
            raise CommandError(json.dumps({"code": exc.code, "detail": exc.message})) from exc
        application = issued.application
        self.stdout.write(
            json.dumps(
                {
                    "integration_key": application.integration_key,
                    "secret_key": issued.secret_key,
                    "api_hostname": application.api_hostname,
                }
            )
        )
