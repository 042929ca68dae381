"""Publish CRLs now (all, a tenant's, one CA's, or only those due)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pki import services
from pki.management.cli import run
from pki.models import CertificateAuthority


class Command(BaseCommand):
    help = "Re-sign and publish CRLs. Prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", default=None, help="tenant slug")
        parser.add_argument("--ca", default=None, help="one CA's public id")
        parser.add_argument("--due-only", action="store_true", help="only CRLs close to their nextUpdate")

    def handle(self, *args: Any, **options: Any) -> None:
        def publish() -> dict[str, Any]:
            if options["due_only"]:
                return {"published": services.crl_refresh_due()}
            cas = CertificateAuthority.objects.all()
            if options["tenant"]:
                cas = cas.filter(tenant__slug=options["tenant"])
            if options["ca"]:
                cas = cas.filter(public_id=options["ca"])
            published = [services.crl_publish(ca=ca) for ca in cas]
            return {
                "published": len(published),
                "crls": [
                    {
                        "ca": str(ca.public_id),
                        "crl_number": ca.crl_number,
                        "next_update": ca.crl_next_update.isoformat(),
                    }
                    for ca in published
                ],
            }

        self.stdout.write(run(publish))
