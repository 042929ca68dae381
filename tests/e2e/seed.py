"""Runs inside the live server's environment: creates test data with our services, prints JSON.

``python -m tests.e2e.seed <slug> [key=value ...]`` -> a tenant, an application (ikey/skey) and an activation
code for alice. Options: ``timeout=<seconds>`` (the application's approval timeout), and the tenant's branding
as an admin would set it: ``brand_name=``, ``brand_primary_color=``, ``app_name=``, ``support_contact=``.
"""

from __future__ import annotations

import json
import os
import sys

import django

BRAND_FIELDS = ("brand_name", "brand_primary_color", "brand_background_color", "app_name", "support_contact")


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.e2e.settings")
    django.setup()
    from approvals.services import application_create
    from devices.services import enrollment_create
    from tenants.models import Tenant
    from tenants.services import subscriber_get_or_create, tenant_create

    name = argv[1] if len(argv) > 1 else "e2e"
    options = dict(arg.split("=", 1) for arg in argv[2:])
    tenant = Tenant.objects.filter(slug=name).first() or tenant_create(name=f"{name.title()} Bank", slug=name)
    brand = {key: value for key, value in options.items() if key in BRAND_FIELDS}
    if brand:
        for key, value in brand.items():
            setattr(tenant, key, value)
        tenant.full_clean()  # the same validation as the admin form
        tenant.save()
    issued = application_create(tenant=tenant, name="Webmail")
    if "timeout" in options:
        issued.application.approval_timeout_seconds = int(options["timeout"])
        issued.application.save(update_fields=["approval_timeout_seconds"])
    subscriber = subscriber_get_or_create(tenant=tenant, username="alice")
    enrollment = enrollment_create(subscriber=subscriber, created_by="e2e")
    print(
        json.dumps(
            {
                "ikey": issued.application.integration_key,
                "skey": issued.secret_key,
                "code": enrollment.activation_code,
                "tenant": tenant.slug,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
