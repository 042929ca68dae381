"""Import an existing CA certificate and private key as a tenant's issuing CA."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pki import services
from pki.management.cli import ca_json, read_file, run, secret_from_env
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "Import a CA certificate + key (stored encrypted). Prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--cert", required=True, help="PEM CA certificate file")
        parser.add_argument("--key", required=True, help="PEM private key file")
        parser.add_argument("--key-password-env", default=None, help="environment variable holding the key password")
        parser.add_argument("--chain", default=None, help="PEM file with the certificates above it")
        parser.add_argument("--name", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        password = secret_from_env(options["key_password_env"]) if options["key_password_env"] else None

        def do_import() -> dict[str, Any]:
            ca = services.ca_import(
                tenant=tenant_get(slug=options["tenant"]),
                certificate_pem=read_file(options["cert"]),
                private_key_pem=read_file(options["key"]),
                key_password=password,
                chain_pem=read_file(options["chain"]) if options["chain"] else "",
                name=options["name"],
                actor="cli",
            )
            return {"ca": ca_json(ca)}

        self.stdout.write(run(do_import))
