"""Web Push end to end: pywebpush -> a local push service -> decrypted with the subscription's keys (http_ece).

The local push service plays the browser vendor's endpoint: it records the encrypted request, and the test
decrypts it with the user agent's private key and auth secret, as the browser would.
"""

from __future__ import annotations

import base64
import json
import os

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from audit.models import AuditEvent
from devices.delivery.base import PushMessage
from devices.delivery.webpush import WebPushBackend
from devices.models import Device
from devices.services import device_set_webpush_subscription
from tests.helpers import RecordingServer, Reply, wait_until


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class PushService(RecordingServer):
    """A push service endpoint on 127.0.0.1 that records requests and answers with ``status`` (no body)."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        super().__init__(lambda request: Reply(self.status))


@pytest.fixture
def push_service():
    with PushService() as service:
        yield service


@pytest.fixture
def vapid(settings):
    key = Vapid02()
    key.generate_keys()
    pem = key.private_pem().decode()
    settings.MFA_WEBPUSH_VAPID_PRIVATE_KEY = pem
    settings.MFA_PUSH_BACKENDS = ["devices.delivery.webpush.WebPushBackend"]
    settings.MFA_WEBPUSH_SUBJECT = "mailto:ops@mfa.example"
    return key


@pytest.fixture
def user_agent_keys():
    """What a browser's PushManager keeps: an ECDH P-256 key pair and a 16-byte auth secret."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return private, public, os.urandom(16)


@pytest.fixture
def subscribed(enrolled, push_service, user_agent_keys):
    _, public, auth = user_agent_keys
    device = Device.objects.get(pk=enrolled.call("GET", "me").json()["device_id"])
    subscription = {
        "endpoint": f"{push_service.url}/push/sub-1",
        "keys": {"p256dh": b64url(public), "auth": b64url(auth)},
    }
    device_set_webpush_subscription(device=device, subscription=subscription)
    return device


def test_webpush__login_attempt__encrypted_push_carries_only_the_transaction_id(
    vapid, subscribed, push_service, user_agent_keys, relying, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        created = relying.auth("alice", ip="203.0.113.7", display_text="Webmail login from Paris")
    assert created.status_code == 201, created.json()
    txid = created.json()["txid"]

    request = wait_until(lambda: push_service.requests, timeout=10)[0]
    headers, path, body = request.headers, request.path, request.body
    assert path == "/push/sub-1"
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["urgency"] == "high"
    assert headers["ttl"] == "60"
    assert Vapid02.verify(headers["authorization"]) is True  # the ES256 JWT verifies against the k= key
    token = headers["authorization"].split("t=")[1].split(",")[0]
    claims = jwt.decode(token, options={"verify_signature": False})  # verified just above
    assert (claims["aud"], claims["sub"]) == (push_service.url, "mailto:ops@mfa.example")
    assert vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    ) == base64.urlsafe_b64decode(headers["authorization"].split("k=")[1] + "==")

    private, _, auth = user_agent_keys
    plaintext = http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm")
    assert json.loads(plaintext) == {"approval_id": txid}  # the id alone: no number, user, place or app


def test_webpush__wrong_auth_secret__cannot_decrypt(
    vapid, subscribed, push_service, relying, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        relying.auth("alice")
    body = wait_until(lambda: push_service.requests, timeout=10)[0].body
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(http_ece.ECEException):
        http_ece.decrypt(body, private_key=stranger, auth_secret=os.urandom(16), version="aes128gcm")


@pytest.mark.django_db(transaction=True)  # the background sender writes from its own thread
def test_webpush__subscription_gone_410__dropped_and_audited(vapid, subscribed, push_service, relying):
    push_service.status = 410
    relying.auth("alice")
    wait_until(lambda: push_service.requests, timeout=10)
    wait_until(lambda: Device.objects.get(pk=subscribed.pk).webpush_subscription == {}, timeout=10)
    # The audit row follows the update on the sender's thread.
    wait_until(lambda: AuditEvent.objects.filter(kind="device.webpush_dropped", device_id=subscribed.pk).exists())


def test_webpush__no_vapid_key__nothing_sent(vapid, settings, subscribed, push_service):
    message = PushMessage(
        device_id=subscribed.pk,
        fcm_token="",
        data={"approval_id": "x"},
        webpush_subscription=subscribed.webpush_subscription,
    )
    settings.MFA_WEBPUSH_VAPID_PRIVATE_KEY = ""
    assert WebPushBackend().send([message]) == []  # synchronous: nothing was attempted
    assert push_service.requests == []
    # Control: the same message with the key configured reaches the push service.
    settings.MFA_WEBPUSH_VAPID_PRIVATE_KEY = vapid.private_pem().decode()
    assert [result.delivered for result in WebPushBackend().send([message])] == [True]
    assert len(push_service.requests) == 1
