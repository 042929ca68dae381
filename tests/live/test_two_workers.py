"""Two ASGI worker processes behind one Redis: a push created on one reaches a socket held by the other."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.sync.client import connect

from approvals.models import ApprovalRequest
from approvals.relying_client import RelyingClient
from tests.live.conftest import device_client, live_database_url, subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis, pytest.mark.live]


def open_socket(server: str, token: str):
    return connect(
        server.replace("http", "ws", 1) + "/ws/device",
        additional_headers={"Authorization": f"Device {token}"},
        open_timeout=10,
    )


def receive(socket) -> dict:
    return json.loads(socket.recv(timeout=10))


def settled(socket) -> None:
    """Wait until the socket's connect handler, which reads what is pending, is done: the consumer answers
    a ping only after it. A request created before that could be announced twice (harmless, not tested)."""
    socket.send(json.dumps({"type": "ping"}))
    assert receive(socket) == {"type": "pong"}  # and nothing was pending


def test_two_workers__request_created_on_b__device_on_a_notified_and_decision_seen_on_b(
    start_servers, issued_app, phone
):
    env = subprocess_env(database_url=live_database_url(), redis=os.environ["REDIS_URL"])
    worker_a, worker_b = start_servers("daphne", env, count=2)
    # The client's timeout outlasts the 20 s long-poll below.
    relying_b = RelyingClient(worker_b.url, issued_app.application.integration_key, issued_app.secret_key, timeout=30)

    with open_socket(worker_a.url, phone.token) as on_a, open_socket(worker_b.url, phone.token) as on_b:
        settled(on_a)
        settled(on_b)
        created = relying_b.auth("alice", context={"ip": "203.0.113.7", "display_text": "VPN login"})
        assert created["result"] == "waiting"
        txid = created["txid"]
        request = {"type": "approval.request", "approval_id": txid}
        assert receive(on_a) == request  # crossed from worker B to worker A through Redis
        assert receive(on_b) == request

        # The relying service long-polls worker B while the user approves on worker A.
        long_poll = ThreadPoolExecutor(max_workers=1).submit(relying_b.status, txid, wait=20)
        phone_on_a = device_client(worker_a.url, phone)
        assert phone_on_a.show(txid)["display_text"] == "VPN login"
        assert not long_poll.done()  # still waiting: nothing was decided yet
        decided = phone_on_a.decide(txid, "approve", created["number"])
        assert decided["status"] == "approved"
        decided_at = time.monotonic()
        polled = long_poll.result(timeout=30)
        assert (polled["status"], polled["result"]) == ("approved", "allow")
        # Well before its 20 s deadline (it polls every 0.25 s at most; the margin is for a loaded machine).
        assert time.monotonic() - decided_at < 5, "the long-poll on B did not return promptly after the decision"

        updated = {"type": "approval.updated", "approval_id": txid, "status": "approved"}
        assert receive(on_b) == updated  # crossed from worker A to worker B
        assert receive(on_a) == updated

    status = relying_b.status(txid)
    assert (status["status"], status["result"]) == ("approved", "allow")
    assert ApprovalRequest.objects.get(pk=txid).decided_by_id == phone.device_id
    for worker in (worker_a, worker_b):
        assert "Traceback" not in worker.log(tail=None), worker.log()
