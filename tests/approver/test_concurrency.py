"""One WebAuthn assertion sent at the same moment over several connections decides once (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.test import Client

from approvals.models import ApprovalRequest
from devices.models import WebAuthnCredential
from tests.approver.conftest import ORIGIN
from tests.helpers import run_concurrently

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 6


def test_decision__same_assertion_concurrently__accepted_once(enrolled, relying):
    login = relying.auth("alice").json()
    body = {"decision": "approve", "number": login["number"], "credential": enrolled.assertion(login["txid"])}
    tabs = []
    for _ in range(THREADS):
        tab = Client(enforce_csrf_checks=True, HTTP_HOST="localhost")
        tab.cookies = enrolled.client.cookies
        tabs.append(tab)

    def post(i: int):
        return tabs[i].post(
            f"/approver/api/approvals/{login['txid']}/decision",
            body,
            content_type="application/json",
            HTTP_X_CSRFTOKEN=enrolled.csrf,
            HTTP_ORIGIN=ORIGIN,
        )

    responses = run_concurrently(THREADS, post)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (THREADS - 1), [r.json() for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 400} == {"webauthn_challenge_invalid"}
    assert ApprovalRequest.objects.get(pk=login["txid"]).status == "approved"
    assert WebAuthnCredential.objects.get().sign_count == 1
