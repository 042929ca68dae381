"""Revoke a certificate by serial and re-publish its CA's CRL."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from mfa_server.errors import NotFoundError
from pki import services
from pki.management.cli import certificate_json, run
from pki.models import IssuedCertificate


class Command(BaseCommand):
    help = "Revoke a client certificate (serial in hex). Prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--serial", required=True, help="hex serial, as in the admin or `openssl x509 -serial`")
        parser.add_argument("--tenant", default=None, help="tenant slug (optional safety check)")
        parser.add_argument("--reason", choices=IssuedCertificate.Reason.values, default="unspecified")

    def handle(self, *args: Any, **options: Any) -> None:
        def revoke() -> dict[str, Any]:
            certificates = IssuedCertificate.objects.filter(
                serial=options["serial"].upper().replace(":", "").lstrip("0")
            )
            if options["tenant"]:
                certificates = certificates.filter(tenant__slug=options["tenant"])
            certificate = certificates.select_related("ca").first()
            if certificate is None:
                raise NotFoundError("No such certificate.")
            revoked = services.certificate_revoke(certificate=certificate, reason=options["reason"], actor="cli")
            return certificate_json(revoked)

        self.stdout.write(run(revoke))
