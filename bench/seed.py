"""Create a benchmark tenant, an application and N subscribers with activation codes, through the services.

Run with the server's environment (``DATABASE_URL`` ...): ``python -m bench.seed --users 500``.
Prints one JSON object: the application's credentials and ``[username, activation_code]`` pairs.
The devices are activated afterwards through the real device API (see ``bench/population.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import time


def seed(*, users: int, slug: str) -> dict[str, object]:
    from approvals.services import application_create
    from devices.services import enrollment_create
    from policies.models import Policy
    from tenants.services import subscriber_get_or_create, tenant_create

    tenant = tenant_create(name=f"Benchmark {slug}", slug=slug)
    # A load test pushes to each user far more often than a person would (every few seconds): lift the
    # push-fatigue limit and shorten its window to what a person's window holds (a push or two), so the rule
    # is still evaluated on every push with a realistic cost. With the default 600 s window each login read
    # every push of the run so far, and the PostgreSQL CPU per round trip doubled within minutes.
    Policy.objects.create(tenant=tenant, push_limit=1_000_000, push_window_seconds=5)
    issued = application_create(tenant=tenant, name="Benchmark webmail", actor="bench")
    codes = []
    for index in range(users):
        subscriber = subscriber_get_or_create(tenant=tenant, username=f"user{index:05d}")
        codes.append(
            [subscriber.username, enrollment_create(subscriber=subscriber, created_by="bench").activation_code]
        )
    return {"ikey": issued.application.integration_key, "skey": issued.secret_key, "codes": codes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--slug", default=f"bench-{int(time.time())}")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mfa_server.settings")
    import django

    django.setup()
    print(json.dumps(seed(users=args.users, slug=args.slug)))


if __name__ == "__main__":
    main()
