"""SMS codes and the limits against SMS pumping, through the relying API with the locmem backend."""

from __future__ import annotations

import re
import time

import pytest
import time_machine

from approvals.models import ApprovalRequest
from fallbacks.models import OneTimeCode, PhoneNumber, SmsSend
from fallbacks.services import phone_number_set
from policies.models import Policy
from tenants.models import Subscriber
from tests.conftest import make_device
from tests.fallbacks.helpers import UK_MOBILE, fallback, pushed_before_a_later_push, snapshot, start_push, verify, wrong
from tests.helpers import audit_kinds, db_text

pytestmark = pytest.mark.django_db


def sms_code(message) -> str:
    return re.search(r"\b(\d{6,8})\b", message.body).group(1)


def test_sms__fallback__sent_to_number__verify_approves(relying, phone, alice_phone_number, sms_outbox):
    txid = start_push(relying)
    response = fallback(relying, txid, "sms")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "pending"
    (message,) = sms_outbox
    code = sms_code(message)
    assert message.to == UK_MOBILE
    assert code not in response.content.decode()
    approval = ApprovalRequest.objects.get(pk=txid)
    assert approval.factor == "sms"
    assert (approval.expires_at - approval.created_at).total_seconds() >= 300  # the code's 5 minutes fit
    send = SmsSend.objects.get()
    assert (send.status, send.region, send.approval_id) == ("sent", "GB", approval.pk)
    assert code not in db_text()

    verified = verify(relying, txid, code)
    assert verified.status_code == 200, verified.json()
    assert (verified.json()["status"], verified.json()["status_reason"]) == ("approved", "sms_verified")
    again = verify(relying, txid, code)
    assert again.status_code == 409
    assert again.json()["code"] == "approval_already_decided"
    assert audit_kinds(approval_id=txid) == ["approval.created", "sms.sent", "approval.approved"]


def test_sms__code_digits_setting__8(relying, phone, alice_phone_number, sms_outbox, settings):
    settings.MFA_SMS_CODE_DIGITS = 8
    txid = start_push(relying)
    fallback(relying, txid, "sms")
    assert len(sms_code(sms_outbox[0])) == 8


def test_sms__code_lifetime__refused_after_five_minutes(relying, phone, alice_phone_number, sms_outbox):
    txid = start_push(relying)
    fallback(relying, txid, "sms")
    code = sms_code(sms_outbox[0])
    with time_machine.travel(time.time() + 301, tick=False):
        response = verify(relying, txid, code)
    assert response.status_code == 409
    assert response.json()["code"] in ("approval_expired", "code_expired")
    assert ApprovalRequest.objects.get(pk=txid).status != "approved"


def test_sms__new_code_invalidates_previous(relying, phone, alice_phone_number, sms_outbox, settings):
    settings.MFA_SMS_COOLDOWN_SECONDS = 0
    txid = start_push(relying)
    fallback(relying, txid, "sms")
    fallback(relying, txid, "sms")
    old, new = (sms_code(m) for m in sms_outbox)
    if old == new:
        pytest.skip("two random codes collided")
    refused = verify(relying, txid, old)
    assert refused.status_code == 400
    assert refused.json()["code"] == "code_invalid"
    assert verify(relying, txid, new).json()["status"] == "approved"


def test_sms__five_wrong_tries__transaction_denied(relying, phone, alice_phone_number, sms_outbox):
    txid = start_push(relying)
    fallback(relying, txid, "sms")
    bad = wrong(sms_code(sms_outbox[0]))
    codes = [verify(relying, txid, bad).json()["code"] for _ in range(5)]
    assert codes == ["code_invalid"] * 4 + ["code_attempts_exceeded"]
    assert ApprovalRequest.objects.get(pk=txid).status == "denied"


def test_sms__cooldown__429_with_retry_after(relying, phone, alice_phone_number, sms_outbox):
    txid = start_push(relying)
    assert fallback(relying, txid, "sms").status_code == 200
    before = snapshot()
    response = fallback(relying, txid, "sms")
    assert response.status_code == 429
    assert response.json()["code"] == "sms_cooldown"
    assert 1 <= int(response["Retry-After"]) <= 30
    assert snapshot() == before
    assert len(sms_outbox) == 1
    assert audit_kinds(kind="sms.refused") == ["sms.refused"]
    with time_machine.travel(time.time() + 31, tick=False):
        assert fallback(relying, txid, "sms").status_code == 200
    assert len(sms_outbox) == 2


def test_sms__subscriber_hourly_cap(relying, phone, alice_phone_number, sms_outbox, settings):
    settings.MFA_SMS_COOLDOWN_SECONDS = 0
    settings.MFA_SMS_SUBSCRIBER_HOURLY_CAP = 2
    txid = start_push(relying)
    assert [fallback(relying, txid, "sms").status_code for _ in range(2)] == [200, 200]
    before = snapshot()
    response = fallback(relying, txid, "sms")
    assert response.status_code == 429
    assert response.json()["code"] == "sms_subscriber_cap"
    assert snapshot() == before
    assert len(sms_outbox) == 2
    with time_machine.travel(time.time() + 3601, tick=False):
        fresh = start_push(relying)
        assert fallback(relying, fresh, "sms").status_code == 200


def test_sms__destination_hourly_cap__shared_number(relying, tenant, phone, alice_phone_number, sms_outbox, settings):
    settings.MFA_SMS_DESTINATION_HOURLY_CAP = 1
    bob = Subscriber.objects.create(tenant=tenant, username="bob")
    make_device(bob, name="Bob phone")
    phone_number_set(subscriber=bob, number=UK_MOBILE, actor="test")
    assert fallback(relying, start_push(relying), "sms").status_code == 200
    response = fallback(relying, start_push(relying, "bob"), "sms")
    assert response.status_code == 429
    assert response.json()["code"] == "sms_destination_cap"
    assert len(sms_outbox) == 1


def test_sms__tenant_hourly_cap(relying, tenant, phone, alice_phone_number, sms_outbox, settings):
    settings.MFA_SMS_TENANT_HOURLY_CAP = 1
    bob = Subscriber.objects.create(tenant=tenant, username="bob")
    make_device(bob, name="Bob phone")
    phone_number_set(subscriber=bob, number="+447400123457", actor="test")
    assert fallback(relying, start_push(relying), "sms").status_code == 200
    before = snapshot()
    response = fallback(relying, start_push(relying, "bob"), "sms")
    assert response.status_code == 429
    assert response.json()["code"] == "sms_tenant_cap"
    assert len(sms_outbox) == 1
    assert SmsSend.objects.count() == before[2]


def test_sms__country_not_on_allow_list__403(relying, phone, subscriber, sms_outbox):
    phone_number_set(subscriber=subscriber, number="+33612345678", actor="test")  # France, valid mobile
    txid = start_push(relying)
    before = snapshot()
    response = fallback(relying, txid, "sms")
    assert response.status_code == 403
    assert response.json()["code"] == "sms_country_not_allowed"
    assert snapshot() == before
    assert sms_outbox == []
    assert audit_kinds(kind="sms.refused") == ["sms.refused"]


def test_sms__premium_rate_number__refused(relying, phone, subscriber, sms_outbox):
    phone_number_set(subscriber=subscriber, number="+449012345678", actor="test")  # UK premium rate
    response = fallback(relying, start_push(relying), "sms")
    assert response.status_code == 403
    assert response.json()["code"] == "sms_country_not_allowed"
    assert sms_outbox == []


def test_sms__policy_biometric_only__403_nothing_sent(relying, phone, alice_phone_number, tenant, sms_outbox):
    Policy.objects.create(tenant=tenant, factors=["push", "passcode"])
    txid = start_push(relying)
    before = snapshot()
    response = fallback(relying, txid, "sms")
    assert response.status_code == 403
    assert response.json()["code"] == "factor_not_allowed"
    assert snapshot() == before
    assert sms_outbox == []
    direct = relying.request("POST", "/api/v1/auth/code", body={"username": "alice", "factor": "sms"})
    assert direct.status_code == 403
    assert direct.json()["code"] == "factor_not_allowed"
    assert sms_outbox == []
    assert ApprovalRequest.objects.count() == 1


def test_sms__application_override_forbids_sms_tenant_allows(relying, issued_app, phone, alice_phone_number, tenant):
    Policy.objects.create(tenant=tenant, factors=["push", "sms"])
    Policy.objects.create(tenant=tenant, application=issued_app.application, factors=["push"])
    response = fallback(relying, start_push(relying), "sms")
    assert response.status_code == 403
    assert response.json()["code"] == "factor_not_allowed"


def test_sms__no_number_on_file__409_factor_unavailable(relying, phone, sms_outbox):
    txid = start_push(relying)
    before = snapshot()
    response = fallback(relying, txid, "sms")
    assert response.status_code == 409
    assert response.json()["code"] == "factor_unavailable"
    assert snapshot() == before
    assert sms_outbox == []


def test_sms__provider_fails__502_code_burnt(relying, phone, alice_phone_number, settings):
    settings.MFA_SMS = {
        "BACKEND": "fallbacks.sms.http.HttpGatewaySmsBackend",
        "OPTIONS": {"url": "http://127.0.0.1:9/"},
    }
    txid = start_push(relying)
    response = fallback(relying, txid, "sms")
    assert response.status_code == 502
    assert response.json()["code"] == "sms_delivery_failed"
    assert OneTimeCode.objects.get(approval_id=txid).invalidated_at is not None
    send = SmsSend.objects.get()
    assert send.status == "failed"
    assert "unreachable" in send.error
    assert audit_kinds(kind="sms.failed") == ["sms.failed"]


@pytest.mark.django_db(transaction=True)
def test_code_start__sms_directly(relying, subscriber, alice_phone_number, sms_outbox, push_outbox):
    make_device(subscriber, fcm_token="fcm-token-1")  # any push would reach it
    response = relying.request("POST", "/api/v1/auth/code", body={"username": "alice", "factor": "sms"})
    assert response.status_code == 201, response.json()
    assert pushed_before_a_later_push(relying, push_outbox) == []
    assert len(sms_outbox) == 1
    txid = response.json()["txid"]
    assert verify(relying, txid, sms_code(sms_outbox[0])).json()["result"] == "allow"


def test_code_start__sms_refused_by_cooldown__nothing_created(relying, phone, alice_phone_number, sms_outbox):
    assert relying.request("POST", "/api/v1/auth/code", body={"username": "alice", "factor": "sms"}).status_code == 201
    before = snapshot()
    response = relying.request(
        "POST", "/api/v1/auth/code", body={"username": "alice", "factor": "sms", "context": {"hostname": "again"}}
    )
    assert response.status_code == 429
    assert response.json()["code"] == "sms_cooldown"
    assert snapshot() == before
    assert len(sms_outbox) == 1


@pytest.mark.parametrize("number", ["07700900123", "+4477009001", "not a number", "+999123"])
def test_phone_number_set__invalid__refused(subscriber, number):
    from fallbacks.exceptions import PhoneNumberInvalidError

    with pytest.raises(PhoneNumberInvalidError):
        phone_number_set(subscriber=subscriber, number=number, actor="test")
    assert PhoneNumber.objects.count() == 0


def test_phone_number_set__normalised_and_audited(subscriber):
    phone = phone_number_set(subscriber=subscriber, number="+44 7400 123456", actor="admin:root")
    assert (phone.e164, phone.region) == (UK_MOBILE, "GB")
    phone_number_set(subscriber=subscriber, number="+49 1512 3456789", actor="admin:root")
    assert PhoneNumber.objects.get().region == "DE"
    assert audit_kinds(subscriber_id=subscriber.pk) == ["phone_number.set", "phone_number.changed"]


def test_sms__subscriber_locked_after_push_started__403_nothing_sent(relying, phone, alice_phone_number, sms_outbox):
    txid = start_push(relying)
    Subscriber.objects.filter(username="alice").update(status="locked")
    before = snapshot()
    response = fallback(relying, txid, "sms")
    assert response.status_code == 403
    assert response.json()["code"] == "subscriber_denied"
    assert snapshot() == before
    assert sms_outbox == []
