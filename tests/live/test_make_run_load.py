"""Concurrent round trips against the all-in-one server of ``make run`` (daphne + worker thread in one process)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from approvals.relying_client import RelyingClient
from audit.models import AuditEvent
from tenants.services import subscriber_get_or_create
from tests.conftest import make_device
from tests.helpers import wait_until
from tests.live.conftest import device_client, live_database_url, subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]
USERS, ROUNDS = 12, 3


def test_make_run_server__concurrent_round_trips__all_allowed_and_no_errors_logged(start_servers, issued_app, tenant):
    (server,) = start_servers(
        "serve", subprocess_env(database_url=live_database_url(), redis=os.environ.get("REDIS_URL", ""))
    )
    phones = {}
    for i in range(USERS):
        phone = make_device(subscriber_get_or_create(tenant=tenant, username=f"user{i}"))
        phones[f"user{i}"] = device_client(server.url, phone)

    def round_trips(username: str) -> list[str]:
        relying = RelyingClient(server.url, issued_app.application.integration_key, issued_app.secret_key, timeout=20)
        results = []
        for round_ in range(ROUNDS):
            created = relying.auth(username, context={"display_text": f"round {round_}"})
            phones[username].decide(created["txid"], "approve", created["number"])
            results.append(relying.status(created["txid"])["result"])
        return results

    with ThreadPoolExecutor(max_workers=USERS) as pool:
        results = [result for user in pool.map(round_trips, phones) for result in user]
    assert results == ["allow"] * USERS * ROUNDS
    # The worker thread seals the audit chain while requests write: it must keep up, without errors.
    wait_until(lambda: not AuditEvent.objects.filter(seq__isnull=True).exists(), timeout=10)
    log = server.log(tail=None)
    assert "Traceback" not in log, log[-4000:]
    assert " ERROR " not in log, log[-4000:]
