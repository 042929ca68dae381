"""Create a tenant's root CA and issuing CA."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pki import services
from pki.keys import ALGORITHMS, EC_P256
from pki.management.cli import ca_json, run
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "Create a root CA and an issuing CA for a tenant. Prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--algorithm", choices=ALGORITHMS, default=EC_P256)
        parser.add_argument("--name", default=None, help="CA name prefix (default: the tenant's name)")
        parser.add_argument("--root-days", type=int, default=None)
        parser.add_argument("--issuing-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        def create() -> dict[str, Any]:
            root, issuing = services.ca_create_hierarchy(
                tenant=tenant_get(slug=options["tenant"]),
                algorithm=options["algorithm"],
                name=options["name"],
                actor="cli",
                root_validity_days=options["root_days"],
                issuing_validity_days=options["issuing_days"],
            )
            return {"root": ca_json(root), "issuing": ca_json(issuing)}

        self.stdout.write(run(create))
