"""Device passcodes (TOTP, RFC 6238) and bypass codes through the relying API."""

from __future__ import annotations

import time
from email.utils import formatdate

import pyotp
import pytest
import time_machine

from approvals.models import ApprovalRequest
from fallbacks.models import BypassCode, DeviceTotp, UsedTotpStep
from fallbacks.services import bypass_codes_issue
from policies.models import Policy
from tenants.models import Subscriber
from tests.fallbacks.helpers import passcode, snapshot, streak
from tests.helpers import audit_kinds, db_text

pytestmark = pytest.mark.django_db


def test_passcode_secret__provisioned_once__stored_encrypted(phone):
    first = phone.client.post("/api/v1/device/passcode-secret", **phone.headers)
    assert first.status_code == 201, first.json()
    body = first.json()
    assert (body["digits"], body["period"], body["algorithm"]) == (6, 30, "SHA1")
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    second = phone.client.post("/api/v1/device/passcode-secret", **phone.headers)
    assert second.status_code == 409
    assert second.json()["code"] == "passcode_secret_already_provisioned"
    assert DeviceTotp.objects.filter(device_id=phone.device_id).count() == 1
    assert body["secret"] not in db_text()
    assert audit_kinds(device_id=phone.device_id, kind__startswith="passcode_secret") == ["passcode_secret.provisioned"]


def test_passcode_secret__without_device_token__401(client):
    response = client.post("/api/v1/device/passcode-secret")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert DeviceTotp.objects.count() == 0


def test_passcode__current_code__approved_once(relying, passcode_phone, subscriber):
    code = passcode_phone.totp().now()
    response = passcode(relying, code)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["result"], body["status_reason"]) == ("approved", "allow", "passcode_verified")
    approval = ApprovalRequest.objects.get(pk=body["txid"])
    assert (approval.factor, approval.decided_by_id) == ("passcode", passcode_phone.device.device_id)
    assert audit_kinds(approval_id=approval.pk) == ["approval.created", "approval.approved"]
    assert code not in str(list(approval.__dict__.values()))
    signed = {
        "body": {"username": "alice", "passcode": code, "context": {"display_text": "retried"}},
        "date": formatdate(),
    }
    first_try = relying.request("POST", "/api/v1/auth/passcode", **signed)
    retry = relying.request("POST", "/api/v1/auth/passcode", **signed)
    assert retry.json() == first_try.json()  # a retried signed request is not a new login

    replay = passcode(relying, code)
    assert replay.status_code == 200, replay.json()
    assert (replay.json()["status"], replay.json()["status_reason"]) == ("denied", "passcode_reused")
    assert streak(subscriber) == 2  # the first new login with the used code, and this one
    assert UsedTotpStep.objects.filter(device_id=passcode_phone.device.device_id).count() == 1


@pytest.mark.parametrize("offset_steps", [-1, 1])
def test_passcode__one_step_off__accepted(relying, passcode_phone, offset_steps):
    now = time.time()
    code = passcode_phone.totp().at(now + offset_steps * 30)
    with time_machine.travel(now, tick=False):
        response = passcode(relying, code)
    assert response.json()["status"] == "approved", response.json()


@pytest.mark.parametrize("offset_steps", [-2, 2])
def test_passcode__two_steps_off__denied_and_counted(relying, passcode_phone, subscriber, offset_steps):
    now = time.time()
    code = passcode_phone.totp().at(now + offset_steps * 30)
    if code in {passcode_phone.totp().at(now + k * 30) for k in (-1, 0, 1)}:
        pytest.skip("the far code happens to equal a near one (1 in 10^5)")
    with time_machine.travel(now, tick=False):
        response = passcode(relying, code)
    assert (response.json()["status"], response.json()["status_reason"]) == ("denied", "passcode_invalid")
    assert audit_kinds(kind="fallback.code_refused") == ["fallback.code_refused"]
    assert streak(subscriber) == 1
    assert UsedTotpStep.objects.count() == 0


def test_passcode__tolerance_zero__previous_step_refused(relying, passcode_phone, settings):
    settings.MFA_TOTP_TOLERANCE_STEPS = 0
    now = time.time()
    code = passcode_phone.totp().at(now - 30)
    if code == passcode_phone.totp().at(now):
        pytest.skip("consecutive codes collide (1 in 10^6)")
    with time_machine.travel(now, tick=False):
        assert passcode(relying, code).json()["status_reason"] == "passcode_invalid"


def test_passcode__replay_of_same_step_from_second_window_position__refused(relying, passcode_phone):
    """The code of step s is valid at s-1, s and s+1: used once at s, it is refused at s+1."""
    start = (int(time.time()) // 30) * 30 + 5
    code = pyotp.TOTP(passcode_phone.secret).at(start)
    with time_machine.travel(start, tick=False):
        assert passcode(relying, code).json()["status"] == "approved"
    with time_machine.travel(start + 30, tick=False):
        response = passcode(relying, code)
    assert (response.json()["status"], response.json()["status_reason"]) == ("denied", "passcode_reused")


def test_passcode__policy_forbids__403_and_nothing_changes(relying, passcode_phone, tenant):
    Policy.objects.create(tenant=tenant, factors=["push", "sms"])
    before = snapshot()
    response = passcode(relying, passcode_phone.totp().now())
    assert response.status_code == 403
    assert response.json()["code"] == "factor_not_allowed"
    assert snapshot() == before
    assert UsedTotpStep.objects.count() == 0


def test_passcode__unknown_user__403_enrollment_required(relying, passcode_phone):
    response = passcode(relying, passcode_phone.totp().now(), username="mallory")
    assert response.status_code == 403
    assert response.json()["code"] == "enrollment_required"
    assert ApprovalRequest.objects.count() == 0


@pytest.mark.parametrize("value", ["", "12345", "abcdef", "1" * 21])
def test_passcode__malformed__400_invalid_input(relying, passcode_phone, value):
    before = snapshot()
    response = passcode(relying, value)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert snapshot() == before


def test_passcode__revoked_device__its_codes_refused(relying, passcode_phone):
    from devices.models import Device
    from devices.services import device_revoke

    device_revoke(device=Device.objects.get(pk=passcode_phone.device.device_id), actor="test")
    # The subscriber has no active device left, but passcodes are checked against active devices only.
    response = passcode(relying, passcode_phone.totp().now())
    assert response.json()["status_reason"] == "passcode_invalid"


# --- bypass codes ------------------------------------------------------------------------------


@pytest.fixture
def bypass_allowed(tenant):
    return Policy.objects.create(tenant=tenant, factors=["push", "passcode", "bypass_code"])


def test_bypass_code__issued_hashed__usable_for_its_uses_only(relying, subscriber, bypass_allowed):
    codes = bypass_codes_issue(subscriber=subscriber, actor="admin:root", count=2, uses=2)
    assert len(codes) == 2
    assert all(len(c) == 9 and c.isdigit() for c in codes)
    text = db_text()
    assert not any(code in text for code in codes)
    assert audit_kinds(kind="bypass_code.issued") == ["bypass_code.issued"]

    first, second = passcode(relying, codes[0]), passcode(relying, codes[0])
    assert (first.json()["status"], first.json()["status_reason"]) == ("approved", "bypass_code_used")
    assert second.json()["status"] == "approved"
    third = passcode(relying, codes[0])
    assert (third.json()["status"], third.json()["status_reason"]) == ("denied", "bypass_code_invalid")
    assert list(BypassCode.objects.order_by("pk").values_list("uses_left", flat=True)) == [0, 2]
    assert ApprovalRequest.objects.get(pk=first.json()["txid"]).factor == "bypass_code"
    assert audit_kinds(kind="bypass_code.used") == ["bypass_code.used", "bypass_code.used"]


def test_bypass_code__expired__denied(relying, subscriber, bypass_allowed):
    (code,) = bypass_codes_issue(subscriber=subscriber, actor="admin:root", count=1, ttl_seconds=60)
    with time_machine.travel(time.time() + 61, tick=False):
        response = passcode(relying, code)
    assert response.json()["status_reason"] == "bypass_code_invalid"
    assert BypassCode.objects.get().uses_left == 1


def test_bypass_code__of_another_subscriber__denied(relying, subscriber, tenant, bypass_allowed):
    bob = Subscriber.objects.create(tenant=tenant, username="bob")
    (code,) = bypass_codes_issue(subscriber=bob, actor="admin:root", count=1)
    response = passcode(relying, code, username="alice")
    assert response.json()["status_reason"] == "bypass_code_invalid"
    assert BypassCode.objects.get().uses_left == 1


def test_bypass_code__default_policy_does_not_allow__403(relying, subscriber):
    (code,) = bypass_codes_issue(subscriber=subscriber, actor="admin:root", count=1)
    response = passcode(relying, code)
    assert response.status_code == 403
    assert response.json()["code"] == "factor_not_allowed"
    assert BypassCode.objects.get().uses_left == 1
