"""Device activation through the device API: single use, expiry, rate limit, key checks, hashed storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.test import Client

from audit.models import AuditEvent
from devices.models import Device, Enrollment
from devices.services import enrollment_create
from tests.helpers import PhoneDevice, audit_kinds, db_text
from tests.integration.conftest import assert_problem

pytestmark = pytest.mark.django_db

ACTIVATE = "/api/v1/device/activate"


def _pem(public_key) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _activate(client: Client, code: str, pem: str | None = None, **extra):
    pem = pem if pem is not None else PhoneDevice.new_key()[1]
    body = {"code": code, "public_key": pem, "name": "Alice phone", "platform": "ios", **extra}
    return client.post(ACTIVATE, body, content_type="application/json")


@pytest.fixture
def code(subscriber) -> str:
    return enrollment_create(subscriber=subscriber, created_by="test").activation_code


def test_activate__valid_code__device_created_and_token_works(client, code, subscriber):
    key, pem = PhoneDevice.new_key()
    response = _activate(client, code, pem, fcm_token="fcm-registration-token")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["username"], body["tenant"]) == ("alice", "Acme Bank")
    device = Device.objects.get(pk=body["device_id"])
    assert (device.subscriber, device.platform, device.fcm_token, device.public_key_pem.strip()) == (
        subscriber,
        "ios",
        "fcm-registration-token",
        pem.strip(),
    )
    me = client.get("/api/v1/device/me", HTTP_AUTHORIZATION=f"Device {body['device_token']}")
    assert me.status_code == 200
    assert me.json()["has_fcm_token"] is True
    assert "device.activated" in audit_kinds(device_id=device.pk)


def test_activate__code_typed_with_dashes_and_lower_case__accepted(client, code):
    typed = "-".join(code[i : i + 4] for i in range(0, len(code), 4)).lower()
    assert _activate(client, typed).status_code == 201


def test_activate__second_use_of_a_code__refused(client, code):
    assert _activate(client, code).status_code == 201
    assert_problem(_activate(client, code), 400, "activation_code_invalid")
    assert Device.objects.count() == 1


def test_activate__expired_code__refused(client, code, time_machine, settings):
    time_machine.move_to(datetime.now(UTC) + timedelta(seconds=settings.MFA_ACTIVATION_TTL_SECONDS + 1))
    assert_problem(_activate(client, code), 400, "activation_code_invalid")
    assert Device.objects.count() == 0
    assert Enrollment.objects.get().used_at is None


def test_activate__short_ttl_code__refused_after_its_ttl(client, subscriber, time_machine):
    time_machine.move_to(datetime.now(UTC), tick=False)
    code = enrollment_create(subscriber=subscriber, created_by="test", ttl_seconds=120).activation_code
    time_machine.shift(121)
    assert_problem(_activate(client, code), 400, "activation_code_invalid")


def test_activate__wrong_code__400_then_rate_limited_with_retry_after(client, code, settings, time_machine):
    settings.MFA_ACTIVATION_FAILURES_PER_MINUTE = 3
    time_machine.move_to(datetime(2026, 11, 30, 12, 0, 10, tzinfo=UTC), tick=False)
    for _ in range(3):
        assert_problem(_activate(client, "WRONGWRONGWRONGWRONG"), 400, "activation_code_invalid")
    limited = _activate(client, "WRONGWRONGWRONGWRONG")
    assert_problem(limited, 429, "rate_limited")
    assert limited["Retry-After"] == "50"
    # While limited even the right code waits: guessing must not be able to tell them apart.
    assert_problem(_activate(client, code), 429, "rate_limited")
    assert audit_kinds(kind="device.activation_refused") == ["device.activation_refused"] * 3
    # Another address is not affected; the next window lets this one try again.
    assert _activate(Client(REMOTE_ADDR="198.51.100.9"), "WRONGWRONGWRONGWRONG").status_code == 400
    time_machine.shift(50)
    assert _activate(client, code).status_code == 201


@pytest.mark.parametrize(
    "pem",
    [
        pytest.param(_pem(ec.generate_private_key(ec.SECP384R1()).public_key()), id="p384"),
        pytest.param(_pem(ec.generate_private_key(ec.SECP256K1()).public_key()), id="secp256k1"),
        pytest.param(_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()), id="rsa"),
        pytest.param(_pem(ed25519.Ed25519PrivateKey.generate().public_key()), id="ed25519"),
        pytest.param("-----BEGIN PUBLIC KEY-----\nnot base64 at all\n-----END PUBLIC KEY-----\n", id="garbage-pem"),
        pytest.param("hello", id="not-pem"),
        pytest.param(
            # A SubjectPublicKeyInfo with an algorithm OID nobody knows (1.2.3.4).
            "-----BEGIN PUBLIC KEY-----\nMA4wBQYDKgMEAwUAAQIDBA==\n-----END PUBLIC KEY-----\n",
            id="unknown-algorithm",
        ),
    ],
)
def test_activate__not_a_p256_key__400_public_key_invalid_and_code_kept(client, code, pem):
    assert_problem(_activate(client, code, pem), 400, "public_key_invalid")
    assert Device.objects.count() == 0
    assert _activate(client, code).status_code == 201  # the code was not consumed


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"code": "X"}, id="missing-fields"),
        pytest.param({"code": "X", "public_key": "k", "name": "n" * 101}, id="long-name"),
        pytest.param([], id="list"),
    ],
)
def test_activate__bad_input__400_invalid_input(client, body):
    assert_problem(client.post(ACTIVATE, body, content_type="application/json"), 400, "invalid_input")
    assert_problem(client.post(ACTIVATE, b"{", content_type="application/json"), 400, "invalid_input")


def test_activate__code_and_token_stored_only_hashed(client, code):
    body = _activate(client, code).json()
    token = body["device_token"]
    text = db_text()
    assert code not in text
    assert token not in text
    device = Device.objects.get(pk=body["device_id"])
    assert device.token_hash
    assert device.token_hash != token
    assert Enrollment.objects.get().code_hash not in (code, "")


def test_device_api__unknown_or_missing_token__401(client):
    assert_problem(client.get("/api/v1/device/approvals", HTTP_AUTHORIZATION="Device nope"), 401, "not_authenticated")
    assert_problem(client.get("/api/v1/device/approvals"), 401, "not_authenticated")
    assert AuditEvent.objects.count() == 0
