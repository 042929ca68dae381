"""Runs inside the live server's environment: creates test data with our services, prints JSON.

``python -m tests.e2e.seed login`` -> a tenant, an application (ikey/skey) and an activation code for alice.
"""

from __future__ import annotations

import json
import os
import sys

import django


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.e2e.settings")
    django.setup()
    from approvals.services import application_create
    from devices.services import enrollment_create
    from tenants.models import Tenant
    from tenants.services import subscriber_get_or_create, tenant_create

    name = argv[1] if len(argv) > 1 else "e2e"
    tenant = Tenant.objects.filter(slug=name).first() or tenant_create(name=f"{name.title()} Bank", slug=name)
    issued = application_create(tenant=tenant, name="Webmail")
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
