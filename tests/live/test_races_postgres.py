"""Concurrent decisions and activations on PostgreSQL: one winner, everyone else refused cleanly.

Each thread has its own Django test client and therefore its own database connection; a barrier
releases them together so the requests really overlap on the server side.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from approvals.models import ApprovalRequest
from audit.models import AuditEvent
from devices.models import Device, Enrollment
from devices.services import enrollment_create
from tests.conftest import make_device
from tests.helpers import PhoneDevice, run_together

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.live]
THREADS = 8


def outcome(response: Any) -> tuple[int, str]:
    assert not isinstance(response, Exception), repr(response)
    return response.status_code, response.json().get("code", response.json().get("status", ""))


def decision_calls(txid: str, number: str, devices: list[PhoneDevice]) -> list[Callable[[], Any]]:
    """Half approve, half deny; each proof signed at a different second so none is a replay of another."""
    now = int(time.time())
    calls = []
    for i in range(THREADS):
        device = devices[i % len(devices)]
        decision = "approve" if i % 2 == 0 else "deny"
        proof = device.proof(txid, decision, number if decision == "approve" else "", timestamp=now - i)
        phone = PhoneDevice(Client(), device.key, device.device_id, device.token)
        calls.append(lambda phone=phone, proof=proof: phone.submit(txid, proof))
    return calls


def assert_decided_once(txid: str, results: list[Any]) -> None:
    outcomes = [outcome(r) for r in results]
    winners = [(i, o) for i, o in enumerate(outcomes) if o[0] == 200]
    assert len(winners) == 1, outcomes
    assert Counter(outcomes) == Counter({winners[0][1]: 1, (409, "approval_already_decided"): THREADS - 1})
    approval = ApprovalRequest.objects.get(pk=txid)
    expected = "approved" if winners[0][0] % 2 == 0 else "denied"
    assert (approval.status, winners[0][1][1]) == (expected, expected)
    decisions = AuditEvent.objects.filter(approval_id=txid, kind__in=["approval.approved", "approval.denied"])
    assert [e.kind for e in decisions] == [f"approval.{expected}"]
    refused = AuditEvent.objects.filter(approval_id=txid, kind="approval.decision_refused")
    assert sorted(e.detail["reason"] for e in refused) == ["approval_already_decided"] * (THREADS - 1)


def test_decision_race__one_device_approve_and_deny__exactly_one_wins(relying, phone):
    created = relying.auth("alice").json()
    results = run_together(decision_calls(created["txid"], created["number"], [phone]))
    assert_decided_once(created["txid"], results)


def test_decision_race__two_devices_of_one_user__exactly_one_wins(relying, phone, subscriber):
    tablet = make_device(subscriber, "Alice tablet")
    created = relying.auth("alice").json()
    results = run_together(decision_calls(created["txid"], created["number"], [phone, tablet]))
    assert_decided_once(created["txid"], results)
    winner = ApprovalRequest.objects.get(pk=created["txid"]).decided_by_id
    assert winner in (phone.device_id, tablet.device_id)


def test_activation_race__same_code_at_once__exactly_one_device(subscriber):
    issued = enrollment_create(subscriber=subscriber, created_by="test")
    bodies = []
    for i in range(THREADS):
        _, pem = PhoneDevice.new_key()
        bodies.append({"code": issued.activation_code, "public_key": pem, "name": f"phone {i}", "platform": "test"})
    calls = [
        lambda body=body: Client().post("/api/v1/device/activate", body, content_type="application/json")
        for body in bodies
    ]
    results = run_together(calls)

    outcomes = Counter(outcome(r)[0] for r in results)
    assert outcomes == Counter({201: 1, 400: THREADS - 1}), [outcome(r) for r in results]
    assert {r.json()["code"] for r in results if r.status_code == 400} == {"activation_code_invalid"}
    (device,) = Device.objects.filter(subscriber=subscriber)
    winner = next(r.json() for r in results if r.status_code == 201)
    assert device.pk == winner["device_id"]
    assert Enrollment.objects.get(pk=issued.enrollment.pk).device_id == device.pk
    assert AuditEvent.objects.filter(kind="device.activated").count() == 1
    assert AuditEvent.objects.filter(kind="device.activation_refused").count() == THREADS - 1
