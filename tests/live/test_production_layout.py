"""The documented production processes (deploy/Procfile: WSGI HTTP API, ASGI WebSockets, worker) end to end."""

from __future__ import annotations

import json
import os

import pytest
from websockets.sync.client import connect

from approvals.relying_client import RelyingApiError, RelyingClient
from approvals.services import application_rotate_secret
from approvals.webhooks import webhook_signature
from tests.live.conftest import device_client, live_database_url, subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.redis, pytest.mark.live]
# Long enough for create -> Redis -> ASGI -> socket -> the device's decision on a slow CI machine.
APPROVAL_TIMEOUT_SECONDS = 5


def receive(socket, *, timeout: float = 10) -> dict:
    return json.loads(socket.recv(timeout=timeout))


def test_procfile__push_over_ws_process__approve_over_http_process__worker_times_out_the_rest(
    start_procfile, http_recorder, issued_app, phone
):
    hook = http_recorder(lambda request: (200, {}, 0))
    application = issued_app.application
    application.callback_url, application.approval_timeout_seconds = f"{hook.url}/hook", APPROVAL_TIMEOUT_SECONDS
    application.save(update_fields=["callback_url", "approval_timeout_seconds"])
    processes = start_procfile(subprocess_env(database_url=live_database_url(), redis=os.environ["REDIS_URL"]))
    http, ws = processes["http"].url, processes["ws"].url
    relying = RelyingClient(http, issued_app.application.integration_key, issued_app.secret_key, timeout=10)
    device = device_client(http, phone)
    headers = {"Authorization": f"Device {phone.token}"}

    with connect(ws.replace("http", "ws", 1) + "/ws/device", additional_headers=headers, open_timeout=10) as socket:
        # The consumer answers a ping only after its connect handler (which reads what is pending) is done:
        # a request created from here on is announced once, by its broadcast.
        socket.send(json.dumps({"type": "ping"}))
        assert receive(socket) == {"type": "pong"}
        # Created by the WSGI process, pushed to the ASGI process's socket through Redis.
        created = relying.auth("alice", context={"display_text": "Webmail"})
        assert receive(socket) == {"type": "approval.request", "approval_id": created["txid"]}
        assert device.decide(created["txid"], "approve", created["number"])["status"] == "approved"
        assert receive(socket) == {"type": "approval.updated", "approval_id": created["txid"], "status": "approved"}
        assert relying.status(created["txid"])["result"] == "allow"
        (request,) = hook.wait_answered(1, timeout=15)
        signature = webhook_signature(
            secret=issued_app.secret_key, timestamp=request.headers["x-mfa-timestamp"], body=request.body
        )
        assert request.headers["x-mfa-signature"] == signature
        assert (request.json()["approval_id"], request.json()["result"]) == (created["txid"], "allow")

        # Nobody answers the next one: the worker process times it out and everyone hears of it.
        ignored = relying.auth("alice", context={"display_text": "ignored"})
        assert receive(socket) == {"type": "approval.request", "approval_id": ignored["txid"]}
        # The worker sweeps every 0.2 s; the timeout comes APPROVAL_TIMEOUT_SECONDS after the creation.
        timed_out = receive(socket, timeout=APPROVAL_TIMEOUT_SECONDS + 25)
        assert timed_out == {"type": "approval.updated", "approval_id": ignored["txid"], "status": "timeout"}
    status = relying.status(ignored["txid"])
    assert (status["status"], status["result"]) == ("timeout", "deny")
    hook.wait_answered(2, timeout=15)
    assert hook.requests[1].json()["status"] == "timeout"
    for name, process in processes.items():
        assert "Traceback" not in process.log(tail=None), f"{name}: {process.log()}"


def test_procfile__secret_rotated_by_another_process__every_http_worker_refuses_the_old_one_at_once(
    start_procfile, issued_app
):
    http = start_procfile(subprocess_env(database_url=live_database_url(), redis=os.environ["REDIS_URL"]))["http"].url
    ikey = issued_app.application.integration_key

    def check(secret: str) -> int:
        """One call on a new connection, which any of the HTTP workers may accept."""
        try:
            RelyingClient(http, ikey, secret, timeout=10).check()
        except RelyingApiError as refused:
            return refused.status
        return 200

    calls = 12  # 2 workers by default: each caches the application from its first call on
    assert [check(issued_app.secret_key) for _ in range(calls)] == [200] * calls
    new_secret = application_rotate_secret(application=issued_app.application, actor="test")  # this process

    assert [check(issued_app.secret_key) for _ in range(calls)] == [401] * calls
    assert [check(new_secret) for _ in range(calls)] == [200] * calls
