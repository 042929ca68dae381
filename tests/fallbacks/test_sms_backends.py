"""SMS backends against local fakes of the providers' wire formats, driven by the real clients."""

from __future__ import annotations

import re

import pytest

from fallbacks.models import SmsSend
from fallbacks.sms import get_sms_backend
from fallbacks.sms.base import SmsMessage, SmsProviderError
from fallbacks.sms.console import ConsoleSmsBackend
from tests.fallbacks.fakes import TWILIO_SID, TWILIO_TOKEN, FakeHttpServer, twilio_messages_responder
from tests.fallbacks.helpers import UK_MOBILE, fallback, start_push, verify
from tests.helpers import audit_kinds


@pytest.fixture
def fake_twilio():
    server = FakeHttpServer(twilio_messages_responder)
    yield server
    server.stop()


@pytest.fixture
def twilio_settings(settings, fake_twilio):
    settings.MFA_SMS = {
        "BACKEND": "fallbacks.sms.twilio.TwilioSmsBackend",
        "OPTIONS": {
            "ACCOUNT_SID": TWILIO_SID,
            "AUTH_TOKEN": TWILIO_TOKEN,
            "FROM_NUMBER": "+15005550006",
            "API_BASE_URL": fake_twilio.url,
        },
    }
    return settings


@pytest.mark.django_db
def test_twilio__fallback_sms__real_client_posts_twilio_form(
    relying, phone, alice_phone_number, twilio_settings, fake_twilio
):
    txid = start_push(relying)
    response = fallback(relying, txid, "sms")
    assert response.status_code == 200, response.json()
    (request,) = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert request.basic_auth == (TWILIO_SID, TWILIO_TOKEN)
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = request.form
    assert (form["To"], form["From"]) == (UK_MOBILE, "+15005550006")
    code = re.search(r"\b(\d{6})\b", form["Body"]).group(1)
    assert SmsSend.objects.get().provider_id == "SM" + "a" * 32
    assert verify(relying, txid, code).json()["status"] == "approved"


def test_twilio__messaging_service_sid__sent_instead_of_from(settings, fake_twilio):
    settings.MFA_SMS = {
        "BACKEND": "fallbacks.sms.twilio.TwilioSmsBackend",
        "OPTIONS": {
            "account_sid": TWILIO_SID,
            "auth_token": TWILIO_TOKEN,
            "messaging_service_sid": "MG" + "1" * 32,
            "api_base_url": fake_twilio.url,
        },
    }
    get_sms_backend().send(SmsMessage(to=UK_MOBILE, body="hello"))
    form = fake_twilio.requests[0].form
    assert form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in form


def test_twilio__provider_error__mapped_without_echoing_number(twilio_settings, fake_twilio):
    with pytest.raises(SmsProviderError) as raised:
        get_sms_backend().send(SmsMessage(to="0044bad", body="x"))
    assert raised.value.reason == "twilio 400 21211"
    assert not raised.value.temporary
    assert "0044bad" not in raised.value.reason


def test_twilio__wrong_credentials__provider_error(settings, fake_twilio):
    settings.MFA_SMS = {
        "BACKEND": "fallbacks.sms.twilio.TwilioSmsBackend",
        "OPTIONS": {
            "account_sid": TWILIO_SID,
            "auth_token": "wrong",
            "from_number": "+1500",
            "api_base_url": fake_twilio.url,
        },
    }
    with pytest.raises(SmsProviderError, match="twilio 401 20003"):
        get_sms_backend().send(SmsMessage(to=UK_MOBILE, body="x"))


def test_twilio__missing_options__improperly_configured(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.MFA_SMS = {"BACKEND": "fallbacks.sms.twilio.TwilioSmsBackend", "OPTIONS": {"account_sid": TWILIO_SID}}
    with pytest.raises(ImproperlyConfigured, match="auth_token"):
        get_sms_backend()


# --- generic HTTP gateway ------------------------------------------------------------------------


@pytest.fixture
def fake_gateway():
    def respond(request):
        if request.headers.get("x-api-key") != "k3y":
            return 403, {"error": "forbidden"}
        return 202, {"message_id": "gw-77", "accepted": True}

    server = FakeHttpServer(respond)
    yield server
    server.stop()


@pytest.mark.django_db
def test_http_gateway__json_template_and_headers(relying, phone, alice_phone_number, settings, fake_gateway):
    settings.MFA_SMS = {
        "BACKEND": "fallbacks.sms.http.HttpGatewaySmsBackend",
        "OPTIONS": {
            "url": f"{fake_gateway.url}/v2/sms",
            "headers": {"X-Api-Key": "k3y"},
            "sender": "ACME",
            "body": {"destination": {"msisdn": "$to"}, "text": "$body", "originator": "$sender", "flash": False},
            "id_field": "message_id",
        },
    }
    txid = start_push(relying)
    assert fallback(relying, txid, "sms").status_code == 200
    (request,) = fake_gateway.requests
    assert request.path == "/v2/sms"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["destination"] == {"msisdn": UK_MOBILE}
    assert body["originator"] == "ACME"
    assert body["flash"] is False
    code = re.search(r"\b(\d{6})\b", body["text"]).group(1)
    assert SmsSend.objects.get().provider_id == "gw-77"
    assert verify(relying, txid, code).json()["status"] == "approved"


def test_http_gateway__form_body_and_basic_auth(settings, fake_gateway):
    settings.MFA_SMS = {
        "BACKEND": "fallbacks.sms.http.HttpGatewaySmsBackend",
        "OPTIONS": {
            "url": fake_gateway.url + "/send",
            "body_format": "form",
            "basic_auth": ["user", "pa:ss"],
            "headers": {"X-Api-Key": "k3y"},
            "body": {"to": "$to", "msg": "$body"},
        },
    }
    get_sms_backend().send(SmsMessage(to=UK_MOBILE, body='code 123456 "quoted" & more'))
    request = fake_gateway.requests[0]
    assert request.basic_auth == ("user", "pa:ss")
    assert request.form == {"to": UK_MOBILE, "msg": 'code 123456 "quoted" & more'}


def test_http_gateway__bearer_token(settings, fake_gateway):
    settings.MFA_SMS = {
        "BACKEND": "fallbacks.sms.http.HttpGatewaySmsBackend",
        "OPTIONS": {"url": fake_gateway.url, "bearer_token": "tok", "headers": {"X-Api-Key": "k3y"}},
    }
    get_sms_backend().send(SmsMessage(to=UK_MOBILE, body="b"))
    request = fake_gateway.requests[0]
    assert request.headers["authorization"] == "Bearer tok"
    assert request.json() == {"to": UK_MOBILE, "body": "b"}


def test_http_gateway__refusal__provider_error(settings, fake_gateway):
    settings.MFA_SMS = {"BACKEND": "fallbacks.sms.http.HttpGatewaySmsBackend", "OPTIONS": {"url": fake_gateway.url}}
    with pytest.raises(SmsProviderError, match="gateway answered 403") as raised:
        get_sms_backend().send(SmsMessage(to=UK_MOBILE, body="b"))
    assert not raised.value.temporary


@pytest.mark.django_db
def test_http_gateway__refusal_through_api__502_audited(relying, phone, alice_phone_number, settings, fake_gateway):
    settings.MFA_SMS = {"BACKEND": "fallbacks.sms.http.HttpGatewaySmsBackend", "OPTIONS": {"url": fake_gateway.url}}
    response = fallback(relying, start_push(relying), "sms")
    assert response.status_code == 502
    assert response.json()["code"] == "sms_delivery_failed"
    assert SmsSend.objects.get().error == "gateway answered 403"
    assert audit_kinds(kind="sms.failed") == ["sms.failed"]


# --- console -----------------------------------------------------------------------------------


def test_console__file_option__appends(tmp_path):
    target = tmp_path / "sms.log"
    backend = ConsoleSmsBackend(file=str(target))
    backend.send(SmsMessage(to=UK_MOBILE, body="one"))
    backend.send(SmsMessage(to=UK_MOBILE, body="two"))
    assert target.read_text() == f"SMS to {UK_MOBILE}: one\nSMS to {UK_MOBILE}: two\n"


def test_console__stdout(capsys):
    ConsoleSmsBackend().send(SmsMessage(to=UK_MOBILE, body="hi"))
    assert capsys.readouterr().out == f"SMS to {UK_MOBILE}: hi\n"
