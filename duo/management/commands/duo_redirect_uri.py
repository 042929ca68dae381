"""Manage the Universal Prompt redirect URIs of an application (client_id = its integration key)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from duo.models import RedirectUri
from duo.redirects import application_get, redirect_uri_add, redirect_uri_remove
from mfa_server.errors import DomainError


class Command(BaseCommand):
    help = "add / remove / list Universal Prompt redirect URIs of an application. Prints one JSON object."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["add", "remove", "list"])
        parser.add_argument("integration_key")
        parser.add_argument("uri", nargs="?", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            application = application_get(integration_key=options["integration_key"])
            if options["action"] == "add":
                redirect_uri_add(application=application, uri=options["uri"], actor="cli")
            elif options["action"] == "remove":
                redirect_uri_remove(application=application, uri=options["uri"], actor="cli")
        except DomainError as exc:
            raise CommandError(json.dumps({"code": exc.code, "detail": exc.message})) from exc
        uris = list(RedirectUri.objects.filter(application=application).order_by("uri").values_list("uri", flat=True))
        self.stdout.write(json.dumps({"client_id": application.integration_key, "redirect_uris": uris}))
