"""One relying service cannot take every thread with calls that wait for users (approvals/wait_permits.py).

The live HTTPS server of tests/duo serves both relying APIs in this process, so one cap counts the
native API's synchronous logins and long-polls and Duo's synchronous pushes of the same application.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from approvals.models import ApprovalRequest
from approvals.relying_client import RelyingApiError, RelyingClient
from approvals.services import IssuedApplication, application_create
from policies.models import Policy
from tenants.services import subscriber_get_or_create
from tests.conftest import make_device
from tests.helpers import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

CAP = 2
REFUSED_LOG = "waiting-call cap reached"


@pytest.fixture
def capped(settings: Any, duo_server: Any) -> None:
    settings.MFA_WAITING_CALLS_PER_APPLICATION = CAP
    settings.MFA_SYNC_AUTH_MAX_WAIT_SECONDS = 30  # the waits end when the test cancels them
    settings.MFA_STATUS_MAX_WAIT_SECONDS = 30


def _client(duo_server: Any, issued: IssuedApplication) -> RelyingClient:
    key = issued.application.integration_key
    return RelyingClient(duo_server.url, key, issued.secret_key, session=duo_server.session(), timeout=40)


def _sync_login(duo_server: Any, issued: IssuedApplication, username: str) -> dict:
    """A synchronous login on its own client (a requests session is not shared between threads)."""
    return _client(duo_server, issued).auth(username, context={"display_text": "VPN"}, is_async=False)


def _pending(issued: IssuedApplication) -> Any:
    return ApprovalRequest.objects.filter(application=issued.application, status=ApprovalRequest.Status.PENDING)


def test_native_api__past_the_cap__429_before_anything_is_created__other_applications_still_wait(
    capped, duo_server, issued_app, tenant
):
    for name in ("u0", "u1", "u2", "v0"):
        make_device(subscriber_get_or_create(tenant=tenant, username=name))
    other_app = application_create(tenant=tenant, name="VPN")
    with ThreadPoolExecutor(max_workers=4) as pool:
        waiting = [pool.submit(_sync_login, duo_server, issued_app, name) for name in ("u0", "u1")]
        wait_until(lambda: _pending(issued_app).count() == CAP)
        relying = _client(duo_server, issued_app)

        # A third synchronous login of the same application: refused, and no push, no transaction.
        with pytest.raises(RelyingApiError) as refused:
            relying.auth("u2", is_async=False)
        assert (refused.value.status, refused.value.body["code"]) == (429, "too_many_waiting_calls")
        assert not ApprovalRequest.objects.filter(subscriber__username="u2").exists()
        # An asynchronous login and a poll that does not wait take no permit; a long-poll needs one.
        started = relying.auth("u2")
        assert relying.status(started["txid"])["result"] == "waiting"
        with pytest.raises(RelyingApiError) as refused_poll:
            relying.status(started["txid"], wait=10)
        assert (refused_poll.value.status, refused_poll.value.body["code"]) == (429, "too_many_waiting_calls")
        # A decided transaction's long-poll answers at once whatever the count.
        relying.cancel(started["txid"])
        assert relying.status(started["txid"], wait=10)["status"] == "cancelled"

        # Another application's synchronous login still waits (and ends when its service cancels it).
        other = pool.submit(_sync_login, duo_server, other_app, "v0")
        wait_until(lambda: _pending(other_app).count() == 1)
        assert not other.done()
        _client(duo_server, other_app).cancel(str(_pending(other_app).get().pk))
        assert other.result(timeout=10)["status"] == "cancelled"

        # A permit comes back when its wait ends: the next synchronous login of the application waits.
        relying.cancel(str(_pending(issued_app).get(subscriber__username="u0").pk))
        assert waiting[0].result(timeout=10)["status"] == "cancelled"
        again = pool.submit(_sync_login, duo_server, issued_app, "u2")
        wait_until(lambda: _pending(issued_app).filter(subscriber__username="u2").exists())
        for approval in _pending(issued_app):
            relying.cancel(str(approval.pk))
        assert [login.result(timeout=10)["status"] for login in (waiting[1], again)] == ["cancelled", "cancelled"]


def test_duo_sync_push__past_the_cap__429_then_duo_client_backs_off_and_gets_through(
    capped, duo_server, duo_auth, issued_app, tenant, caplog
):
    for name in ("u0", "u1", "u2"):
        make_device(subscriber_get_or_create(tenant=tenant, username=name))
    # A plain Duo push (no verified-push code to show), as a legacy integration sends it.
    Policy.objects.create(tenant=tenant, application=issued_app.application, number_matching=False)
    relying = _client(duo_server, issued_app)
    caplog.set_level(logging.WARNING, logger="approvals.wait_permits")
    with ThreadPoolExecutor(max_workers=3) as pool:
        waiting = [pool.submit(_sync_login, duo_server, issued_app, name) for name in ("u0", "u1")]
        wait_until(lambda: _pending(issued_app).count() == CAP)

        # Duo's own client, synchronous push: answered 429 (42901), which duo_client retries with back-off.
        duo_login = pool.submit(duo_auth.auth, "push", username="u2")
        wait_until(lambda: REFUSED_LOG in caplog.text)
        assert not ApprovalRequest.objects.filter(subscriber__username="u2").exists()

        # A waiting login ends: the client's next attempt takes the freed permit and waits for its user.
        relying.cancel(str(_pending(issued_app).get(subscriber__username="u0").pk))
        assert waiting[0].result(timeout=10)["status"] == "cancelled"
        duo_approval = wait_until(lambda: _pending(issued_app).filter(subscriber__username="u2").first(), timeout=10)
        relying.cancel(str(duo_approval.pk))
        assert duo_login.result(timeout=10)["result"] == "deny"
        relying.cancel(str(_pending(issued_app).get().pk))
        assert waiting[1].result(timeout=10)["status"] == "cancelled"
