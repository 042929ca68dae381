"""Export a tenant's CA chain as a PEM bundle (nginx ``ssl_client_certificate``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mfa_server.errors import NotFoundError
from pki.management.cli import run
from pki.models import CertificateAuthority
from pki.selectors import ca_chain_pem, tenant_chain_pem, tenant_crls_pem
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "Export the CA chain of a tenant (all its CAs) or of one CA. Prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--ca", default=None, help="one CA's public id (default: every CA of the tenant)")
        parser.add_argument("--out", default=None, help="write the PEM bundle here instead of into the JSON")
        parser.add_argument(
            "--crl-out", default=None, help="also write every CRL of the tenant (PEM) here, for nginx ssl_crl"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        def export() -> dict[str, Any]:
            tenant = tenant_get(slug=options["tenant"])
            if options["ca"]:
                ca = CertificateAuthority.objects.filter(tenant=tenant, public_id=options["ca"]).first()
                if ca is None:
                    raise NotFoundError("No such CA for this tenant.")
                pem = ca_chain_pem(ca=ca)
            else:
                pem = tenant_chain_pem(tenant=tenant)
            if not pem:
                raise NotFoundError("The tenant has no CA.")
            result: dict[str, Any] = {"certificates": pem.count("-----BEGIN CERTIFICATE-----")}
            if options["crl_out"]:
                crls = tenant_crls_pem(tenant=tenant)
                with open(options["crl_out"], "w") as handle:
                    handle.write(crls)
                result.update(crl_path=options["crl_out"], crls=crls.count("-----BEGIN X509 CRL-----"))
            if options["out"]:
                with open(options["out"], "w") as handle:
                    handle.write(pem)
                return {**result, "path": options["out"]}
            return {**result, "chain": pem}

        self.stdout.write(run(export))
