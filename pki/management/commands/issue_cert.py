"""Issue a client certificate from a CSR, or as a server-generated password-protected PKCS#12."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from approvals.models import Application
from devices.models import Device
from mfa_server.errors import NotFoundError
from pki import services
from pki.keys import ALGORITHMS, EC_P256
from pki.management.cli import certificate_json, read_file, run, secret_from_env, subscriber_get
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = (
        "Issue a client certificate for a subscriber (optionally bound to a device) or, with --application "
        "IKEY, for a relying service (service-to-service mTLS), either for a CSR "
        "(--csr FILE) or with a server-generated key written once as PKCS#12 (--p12-out FILE "
        "--p12-password-env VAR). Prints one JSON object."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        holder = parser.add_mutually_exclusive_group(required=True)
        holder.add_argument("--username")
        holder.add_argument("--application", help="integration key of the relying service the certificate identifies")
        parser.add_argument("--device", type=int, default=None, help="device id to bind the certificate to")
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--csr", help="PEM or DER PKCS#10 file")
        mode.add_argument("--p12-out", help="where to write the PKCS#12 bundle (created, mode 0600)")
        parser.add_argument("--p12-password-env", default=None, help="environment variable holding the password")
        parser.add_argument("--algorithm", choices=ALGORITHMS, default=EC_P256, help="key type for --p12-out")
        parser.add_argument("--validity-days", type=int, default=None)
        parser.add_argument("--cert-out", default=None, help="also write the certificate PEM here")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["p12_out"] and not options["p12_password_env"]:
            raise CommandError("--p12-out needs --p12-password-env")

        def issue() -> dict[str, Any]:
            tenant = tenant_get(slug=options["tenant"])
            subscriber, device, application = None, None, None
            if options["application"]:
                if options["device"] is not None:
                    raise CommandError("--device goes with --username, not --application")
                application = Application.objects.filter(tenant=tenant, integration_key=options["application"]).first()
                if application is None:
                    raise NotFoundError("No such application in this tenant.")
            else:
                subscriber = subscriber_get(tenant=tenant, username=options["username"])
            if options["device"] is not None:
                device = Device.objects.filter(pk=options["device"], subscriber=subscriber).first()
                if device is None:
                    raise NotFoundError("No such device for this subscriber.")
            common = {
                "tenant": tenant,
                "subscriber": subscriber,
                "device": device,
                "application": application,
                "actor": "cli",
            }
            result: dict[str, Any] = {}
            if options["csr"]:
                issued = services.certificate_issue_from_csr(
                    csr=read_file(options["csr"]), validity_days=options["validity_days"], **common
                )
            else:
                bundle = services.certificate_issue_pkcs12(
                    password=secret_from_env(options["p12_password_env"]),
                    algorithm=options["algorithm"],
                    validity_days=options["validity_days"],
                    **common,
                )
                issued = bundle.certificate
                descriptor = os.open(options["p12_out"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(bundle.pkcs12)
                result["p12_path"] = options["p12_out"]
            if options["cert_out"]:
                with open(options["cert_out"], "w") as handle:
                    handle.write(issued.certificate_pem)
                result["certificate_path"] = options["cert_out"]
            else:
                result["certificate"] = issued.certificate_pem
            return {**certificate_json(issued), **result}

        self.stdout.write(run(issue))
