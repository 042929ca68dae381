"""Synchronous logins wait for the user: a server layout must not run out of room for them.

A relying service calling ``auth`` with ``async: false`` (Duo's default) holds its HTTP request open until
the user answers, typically for seconds. Many such logins at once must neither keep later logins from
starting nor keep the device that ends one from being heard, and each must return as soon as it ends.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from approvals.models import ApprovalRequest
from approvals.relying_client import RelyingClient
from approvals.services import IssuedApplication
from tenants.models import Tenant
from tenants.services import subscriber_get_or_create
from tests.conftest import make_device
from tests.helpers import wait_until
from tests.live.conftest import device_client, live_database_url, subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

# Three times what the Procfile served before waits had room of their own (2 workers x 4 threads).
WAITING_LOGINS = 24
# Waits must end on the transactions' end notices (through Redis between processes), never on a re-read;
# all the logins are one application's, with room for all of them (tests/duo/test_waiting_cap.py caps it).
WAIT_SETTINGS = {"MFA_WAIT_RECHECK_SECONDS": "60", "MFA_WAITING_CALLS_PER_APPLICATION": str(WAITING_LOGINS)}


@pytest.mark.postgres
@pytest.mark.redis
def test_procfile__many_sync_logins_waiting__all_start_and_each_ends_at_once(start_procfile, issued_app, tenant):
    env = subprocess_env(database_url=live_database_url(), redis=os.environ["REDIS_URL"], **WAIT_SETTINGS)
    processes = start_procfile(env)
    assert_sync_logins_served(processes["http"].url, issued_app, tenant)
    for name, process in processes.items():
        assert "Traceback" not in process.log(tail=None), f"{name}: {process.log()}"


def test_make_run_server__many_sync_logins_waiting__all_start_and_each_ends_at_once(start_servers, issued_app, tenant):
    env = subprocess_env(database_url=live_database_url(), redis=os.environ.get("REDIS_URL", ""), **WAIT_SETTINGS)
    (server,) = start_servers("serve", env)
    assert_sync_logins_served(server.url, issued_app, tenant)
    assert "Traceback" not in server.log(tail=None), server.log()


def assert_sync_logins_served(server: str, issued_app: IssuedApplication, tenant: Tenant) -> None:
    application = issued_app.application
    application.approval_timeout_seconds = 120  # nobody times out while the test looks
    application.save(update_fields=["approval_timeout_seconds"])
    phones = [make_device(subscriber_get_or_create(tenant=tenant, username=f"user{i}")) for i in range(WAITING_LOGINS)]

    def relying() -> RelyingClient:  # one per thread: a client's connection pool is not shared
        return RelyingClient(server, application.integration_key, issued_app.secret_key, timeout=90)

    def sync_login(username: str) -> dict:
        return relying().auth(username, context={"display_text": "VPN"}, is_async=False)

    with ThreadPoolExecutor(max_workers=WAITING_LOGINS) as pool:
        logins = [pool.submit(sync_login, f"user{i}") for i in range(WAITING_LOGINS)]
        # Every login started (its push is out) while the earlier ones are still waiting for their users.
        pending = ApprovalRequest.objects.filter(status=ApprovalRequest.Status.PENDING)
        wait_until(lambda: pending.count() == WAITING_LOGINS, timeout=30)

        # user0 approves on the phone: the device API answers, and user0's waiting login returns allow.
        approval = pending.get(subscriber__username="user0")
        device = device_client(server, phones[0])
        assert device.decide(str(approval.pk), "approve", approval.number)["status"] == "approved"
        answered = logins[0].result(timeout=10)
        assert (answered["txid"], answered["result"]) == (str(approval.pk), "allow")
        assert not any(login.done() for login in logins[1:])

        # Every other login ends as soon as its relying service cancels it.
        canceller = relying()
        for login in pending.all():
            canceller.cancel(str(login.pk))
        results = [login.result(timeout=20)["status"] for login in logins[1:]]
    assert results == ["cancelled"] * (WAITING_LOGINS - 1)
