"""First start of ``make run``: create an admin login and a demo tenant, and say so once."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from tenants.models import Tenant
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create the admin user and the demo tenant when the database has none (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if not Tenant.objects.filter(slug="demo").exists():
            tenant_create(name="Demo organisation", slug="demo")
            self.stdout.write("Created tenant 'demo'.")
        if user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write("Admin login exists already (reset it with: python manage.py changepassword admin).")
            return
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser("admin", "admin@localhost", password)
        self.stdout.write(self.style.SUCCESS(f"Admin login (shown once): user 'admin', password '{password}'"))
