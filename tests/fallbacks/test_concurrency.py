"""The same code submitted at the same moment from separate connections is accepted at most once (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.test import Client

from approvals.models import ApprovalRequest
from fallbacks.models import OneTimeCode, UsedTotpStep
from tests.fallbacks.helpers import fallback, passcode, session_codes, start_push, verify
from tests.helpers import SignedClient, run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 6


def clients(relying: SignedClient) -> list[SignedClient]:
    return [SignedClient(Client(), relying.ikey, relying.skey) for _ in range(THREADS)]


def test_code_verify__same_code_concurrently__accepted_once(relying, phone):
    txid = start_push(relying)
    assert fallback(relying, txid, "session_code").status_code == 200
    (delivered,) = session_codes(phone)
    callers = clients(relying)
    responses = run_concurrently(THREADS, lambda i: verify(callers[i], txid, delivered["code"]))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (THREADS - 1), [r.json() for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"approval_already_decided"}
    assert ApprovalRequest.objects.get(pk=txid).status == "approved"
    assert OneTimeCode.objects.get(approval_id=txid).used_at is not None


def test_passcode__same_code_concurrently__accepted_once(relying, passcode_phone):
    code = passcode_phone.totp().now()
    callers = clients(relying)
    responses = run_concurrently(THREADS, lambda i: passcode(callers[i], code, display_text=f"racer {i}"))
    assert all(r.status_code < 500 for r in responses), [r.json() for r in responses]
    outcomes = sorted(r.json()["status"] for r in responses)
    assert outcomes == ["approved"] + ["denied"] * (THREADS - 1), [r.json() for r in responses]
    assert {r.json()["status_reason"] for r in responses if r.json()["status"] == "denied"} == {"passcode_reused"}
    assert UsedTotpStep.objects.count() == 1
