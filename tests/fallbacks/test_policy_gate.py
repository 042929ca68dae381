"""The policy's locks (end-user networks here) apply to code factors as they do to pushes."""

from __future__ import annotations

import pytest

from approvals.models import ApprovalRequest
from fallbacks.models import UsedTotpStep
from policies.models import Policy
from tests.fallbacks.helpers import passcode, snapshot
from tests.helpers import audit_kinds

pytestmark = pytest.mark.django_db


@pytest.fixture
def office_only(tenant):
    return Policy.objects.create(tenant=tenant, user_networks_allow="10.0.0.0/8")


def test_passcode__from_outside_allowed_network__policy_denied_nothing_consumed(relying, passcode_phone, office_only):
    before = snapshot()
    response = passcode(relying, passcode_phone.totp().now(), ip="203.0.113.7")
    assert response.status_code == 403
    assert response.json()["code"] == "policy_denied"
    assert response.json()["fields"]["rule"] == "user_network"
    assert snapshot() == before
    assert UsedTotpStep.objects.count() == 0
    assert audit_kinds(kind="policy.refused") == ["policy.refused"]


def test_passcode__from_allowed_network__approved(relying, passcode_phone, office_only):
    response = passcode(relying, passcode_phone.totp().now(), ip="10.1.2.3")
    assert response.json()["status"] == "approved", response.json()
    assert ApprovalRequest.objects.get(pk=response.json()["txid"]).ip == "10.1.2.3"


def test_passcode__no_end_user_ip_under_network_rule__fails_closed(relying, passcode_phone, office_only):
    response = passcode(relying, passcode_phone.totp().now())
    assert response.status_code == 403
    assert response.json()["code"] == "policy_denied"


def test_code_start__sms_from_outside_allowed_network__denied_nothing_sent(
    relying, phone, alice_phone_number, office_only, sms_outbox
):
    before = snapshot()
    body = {"username": "alice", "factor": "sms", "context": {"ip": "203.0.113.7"}}
    response = relying.request("POST", "/api/v1/auth/code", body=body)
    assert response.status_code == 403
    assert response.json()["code"] == "policy_denied"
    assert snapshot() == before
    assert sms_outbox == []
