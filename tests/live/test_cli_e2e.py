"""The README flow with real processes: operator commands, a live server, the device CLI and the relying CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest
from websockets.sync.client import connect

from audit.models import AuditEvent
from audit.services import audit_seal, audit_verify
from tests.live.conftest import PYTHON, REPO, live_database_url, run_json, subprocess_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def test_cli__enrol_activate_push_approve_and_fraud__against_live_server(start_servers, tmp_path, issued_app):
    env = subprocess_env(database_url=live_database_url(), redis=os.environ.get("REDIS_URL", ""))
    (server,) = start_servers("serve", env)

    # The operator issues an activation link (one JSON object on stdout).
    enrol = run_json(
        ["manage.py", "enroll", "--tenant", "acme", "--username", "alice"], {**env, "MFA_PUBLIC_URL": server.url}
    )
    assert enrol["activation_url"].startswith(f"{server.url}/")

    # The phone activates from the link; key and token stay in the state file, owner-only.
    state = tmp_path / "phone.json"
    device = ["-m", "devices.client"]
    activated = run_json([*device, "activate", enrol["activation_url"], "--state", str(state), "--name", "CLI"], env)
    assert activated["username"] == "alice"
    assert activated["server"] == server.url
    assert "device_token" not in activated
    assert "private_key_pem" not in activated
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert {"device_token", "private_key_pem"} <= json.loads(state.read_text()).keys()
    again = run_json(
        [*device, "activate", enrol["activation_url"], "--state", str(tmp_path / "x.json")], env, expect_rc=1
    )
    assert again["code"] == "activation_code_invalid"
    assert not (tmp_path / "x.json").exists()

    # The relying service signs its calls with the application's keys.
    ikey, skey = issued_app.application.integration_key, issued_app.secret_key
    relying_env = {**env, "MFA_IKEY": ikey, "MFA_SKEY": skey}
    relying = ["-m", "approvals.relying_client", "--server", server.url]
    assert run_json([*relying, "preauth", "alice"], relying_env)["result"] == "auth"
    # The phone listens on its WebSocket (a request created before it connects is announced on connect).
    listener = subprocess.Popen(
        [PYTHON, *device, "listen", "--count", "1", "--timeout", "15", "--state", str(state)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        login = run_json([*relying, "auth", "alice", "--ip", "203.0.113.7", "--display-text", "Webmail"], relying_env)
        heard, _ = listener.communicate(timeout=20)
    finally:
        listener.kill()
        listener.wait()
    assert json.loads(heard) == [{"type": "approval.request", "approval_id": login["txid"]}]
    assert login["result"] == "waiting"
    assert len(login["number"]) == 3

    (pending,) = run_json([*device, "pending", "--state", str(state)], env)
    assert (pending["approval_id"], pending["ip"], pending["display_text"]) == (login["txid"], "203.0.113.7", "Webmail")
    assert "number" not in pending

    approved = run_json([*device, "approve", login["txid"], "--number", login["number"], "--state", str(state)], env)
    assert approved["status"] == "approved"
    status = run_json([*relying, "status", login["txid"]], relying_env)
    assert (status["status"], status["result"]) == ("approved", "allow")
    late = run_json([*device, "deny", login["txid"], "--state", str(state)], env, expect_rc=1)
    assert late["code"] == "approval_already_decided"

    # A login the user did not start: pushed to the phone's open socket (the server's channel layer, in
    # memory under `make run`), reported as fraud, and the relying service denies it.
    token = json.loads(state.read_text())["device_token"]
    url = server.url.replace("http", "ws", 1) + "/ws/device"
    with connect(url, additional_headers={"Authorization": f"Device {token}"}, open_timeout=10) as socket:
        attack = run_json([*relying, "auth", "alice", "--display-text", "Not me"], relying_env)
        assert json.loads(socket.recv(timeout=10)) == {"type": "approval.request", "approval_id": attack["txid"]}
    assert run_json([*device, "deny", attack["txid"], "--fraud", "--state", str(state)], env)["status"] == "fraud"
    status = run_json([*relying, "status", attack["txid"]], relying_env)
    assert (status["status"], status["result"]) == ("fraud", "deny")
    assert run_json([*device, "pending", "--state", str(state)], env) == []

    audit_seal()
    checked, breaks = audit_verify()
    assert breaks == []
    assert AuditEvent.objects.filter(kind="approval.fraud", approval_id=attack["txid"]).count() == 1
    assert checked == AuditEvent.objects.count()
