"""The reference device client's `passcode` and `codes` subcommands against a live server."""

from __future__ import annotations

import json

import pytest

from devices.client import main
from devices.services import enrollment_create
from fallbacks.models import DeviceTotp
from tests.fallbacks.helpers import fallback, passcode, start_push, verify

pytestmark = pytest.mark.django_db(transaction=True)


def run(capsys, *argv: str):
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.fixture
def activated_state(live_server, subscriber, tmp_path, capsys):
    issued = enrollment_create(subscriber=subscriber, created_by="test")
    state = tmp_path / "device.json"
    rc, shown = run(capsys, "activate", issued.activation_code, "--server", live_server.url, "--state", str(state))
    assert rc == 0, shown
    assert "passcode_secret" not in shown
    assert "device_token" not in shown
    return state


def test_client_activate__provisions_passcode_secret_once(activated_state):
    saved = json.loads(activated_state.read_text())
    assert len(saved["passcode_secret"]) == 32
    assert DeviceTotp.objects.filter(device_id=saved["device_id"]).exists()
    assert (activated_state.stat().st_mode & 0o777) == 0o600


def test_client_passcode__prints_code_the_server_accepts(activated_state, relying, capsys):
    rc, shown = run(capsys, "passcode", "--state", str(activated_state))
    assert rc == 0
    assert len(shown["passcode"]) == 6
    assert 1 <= shown["valid_for"] <= 30
    response = passcode(relying, shown["passcode"])
    assert response.json()["status"] == "approved", response.json()


def test_client_codes__lists_session_code_the_server_accepts(activated_state, relying, capsys):
    rc, shown = run(capsys, "codes", "--state", str(activated_state))
    assert (rc, shown) == (0, [])
    txid = start_push(relying)
    assert fallback(relying, txid, "session_code").status_code == 200
    rc, shown = run(capsys, "codes", "--state", str(activated_state))
    assert rc == 0
    (entry,) = shown
    assert entry["approval_id"] == txid
    assert entry["application"] == "Webmail"
    assert verify(relying, txid, entry["code"]).json()["status"] == "approved"
    rc, shown = run(capsys, "codes", "--state", str(activated_state))
    assert shown == []
