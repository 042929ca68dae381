"""The device WebSocket (/ws/device) applies the tenant policy's connection locks exactly as the device API does.

Through ``mfa_server.asgi.application``: the client address comes from the scope's ``client`` and, from a
trusted proxy only, ``X-Forwarded-For``; the client certificate from the trusted nginx headers. A refusal
closes the handshake with 4403 and writes the same ``policy.refused`` audit event as the HTTP path.
"""

from __future__ import annotations

import json
import ssl
from typing import NamedTuple
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.core.handlers.asgi import ASGIRequest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from audit.models import AuditEvent
from devices.models import Device
from devices.services import device_revoke
from mfa_server.asgi import application
from mfa_server.net import scope_meta
from pki.selectors import tenant_chain_pem, tenant_crls_pem
from pki.services import ca_create_hierarchy, certificate_issue_from_csr, certificate_revoke
from policies.facts import request_facts, scope_facts
from tests.approver.conftest import _webauthn_settings, activation_code, browser, enrolled  # noqa: F401
from tests.live.conftest import live_database_url, start_servers, subprocess_env  # noqa: F401
from tests.pki.conftest import make_csr
from tests.policies.certs import key_pem, write
from tests.policies.test_nginx_mtls import NGINX, pki, start_nginx  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

PROXY = "10.0.0.2"  # the only trusted proxy in these tests
PHONE_IP = "203.0.113.9"
ORIGIN = (b"origin", b"http://localhost")


def communicator(*, peer: str, headers: dict[str, str], token: str | None = None) -> WebsocketCommunicator:
    """A handshake from ``peer`` (the scope's client address) carrying ``headers``."""
    raw = [ORIGIN, *((name.lower().encode(), value.encode()) for name, value in headers.items())]
    if token is not None:
        raw.append((b"authorization", f"Device {token}".encode()))
    ws = WebsocketCommunicator(application, "/ws/device", headers=raw)
    ws.scope["client"] = (peer, 54321)  # read lazily: the application starts on the first event
    return ws


async def handshake(ws: WebsocketCommunicator) -> tuple[bool, int | None]:
    """Connect and hang up again; ``(accepted, close code)``."""
    accepted, detail = await ws.connect(timeout=3)
    if accepted:
        await ws.disconnect()
        return True, None
    return False, detail


def cert_headers(certificate_pem: str, verify: str = "SUCCESS") -> dict[str, str]:
    """What nginx forwards for a client certificate (``$ssl_client_escaped_cert``, ``$ssl_client_verify``)."""
    return {"X-SSL-Client-Cert": quote(certificate_pem, safe=""), "X-SSL-Client-Verify": verify}


async def refusals() -> list[AuditEvent]:
    return [e async for e in AuditEvent.objects.filter(kind="policy.refused").order_by("id")]


@pytest.fixture
def trusted_proxy(settings) -> str:
    settings.MFA_TRUSTED_PROXIES = [f"{PROXY}/32"]
    return PROXY


class Issued(NamedTuple):
    pem: str
    key_pem: str


@pytest.fixture
def builtin_certs(tenant, subscriber, phone) -> dict[str, Issued]:
    """Certificates (and keys) from the tenant's built-in CA: ``mine`` (bound to the phone),
    ``unbound`` (the subscriber's, no device), ``revoked`` (bound to the phone, then revoked)."""
    ca_create_hierarchy(tenant=tenant, actor="test")
    device = Device.objects.get(pk=phone.device_id)
    issued = {}
    for name, bound in (("mine", device), ("unbound", None), ("revoked", device)):
        key, csr = make_csr()
        certificate = certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=csr, device=bound)
        if name == "revoked":
            certificate_revoke(certificate=certificate, reason="key_compromise")
        issued[name] = Issued(certificate.certificate_pem, key_pem(key))
    return issued


@pytest.fixture
def cert_policy(tenant_policy, builtin_certs):
    """The tenant default requires a built-in-CA client certificate bound to the device."""
    return tenant_policy(client_cert_required=True, client_cert_binding="device", client_cert_ca="builtin")


# --- facts from the scope ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "headers"),
    [
        (PHONE_IP, []),
        (PHONE_IP, [(b"x-forwarded-for", b"10.0.0.7")]),  # untrusted peer: ignored
        (PROXY, [(b"x-forwarded-for", b"198.51.100.1, 203.0.113.9")]),  # from the right: 203.0.113.9
        (PROXY, [(b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-for", b"203.0.113.9")]),  # joined with ","
        (PROXY, [(b"x-forwarded-for", b"203.0.113.9, 10.0.0.2")]),  # trusted hops are skipped
        (PROXY, [(b"x-ssl-client-verify", b"SUCCESS"), (b"x-ssl-client-cert", b"-----BEGIN%20CERT")]),
        (PHONE_IP, [(b"x-ssl-client-verify", b"SUCCESS"), (b"x-ssl-client-cert", b"-----BEGIN%20CERT")]),
        (PROXY, [(b"x-ssl-client-verify", b"NONE")]),
    ],
)
def test_scope_facts__same_as_request_facts_of_the_same_asgi_scope(peer, headers, trusted_proxy):
    scope = {"type": "http", "method": "GET", "path": "/ws/device", "client": (peer, 1234), "headers": headers}
    http = request_facts(ASGIRequest(scope, None), device_id=7)  # what Django itself makes of the scope
    assert scope_facts(scope, device_id=7) == http
    assert scope_meta(scope)["REMOTE_ADDR"] == peer


# --- networks: not a device lock, on the socket as on the device API --------------------------------------------


async def test_device_socket__network_policy__not_applied_to_devices_like_the_device_api(phone, tenant_policy):
    """Allowed networks judge the login's IP and the relying service's address, never the phone's own."""
    await sync_to_async(tenant_policy)(
        user_networks_allow="192.0.2.0/24", service_networks_allow="192.0.2.0/24", user_networks_deny=PHONE_IP
    )
    assert await handshake(communicator(peer=PHONE_IP, headers={}, token=phone.token)) == (True, None)
    assert (await sync_to_async(phone.get)("me")).status_code == 200
    assert await refusals() == []


# --- client certificate -----------------------------------------------------------------------------------------


async def test_device_socket__no_certificate__closed_4403_and_audited(phone, subscriber, cert_policy, trusted_proxy):
    ws = communicator(peer=PROXY, headers={"X-Forwarded-For": f"198.51.100.1, {PHONE_IP}"}, token=phone.token)
    assert await handshake(ws) == (False, 4403)
    [event] = await refusals()
    assert (event.actor, event.device_id, event.subscriber_id, event.ip) == (
        f"device:{phone.device_id}",
        phone.device_id,
        subscriber.pk,
        PHONE_IP,
    )
    assert (event.detail["rule"], event.detail["reason"], event.detail["phase"]) == (
        "client_certificate",
        "certificate_missing",
        "access",
    )
    assert event.detail["service_ip"] == PHONE_IP  # the right-most untrusted hop, not the forged left one


async def test_device_socket__builtin_ca_certificate_bound_to_the_device__accepted(
    phone, cert_policy, builtin_certs, trusted_proxy
):
    headers = {"X-Forwarded-For": PHONE_IP, **cert_headers(builtin_certs["mine"].pem)}
    ws = communicator(peer=PROXY, headers=headers, token=phone.token)
    assert await ws.connect(timeout=3) == (True, None)
    try:
        await ws.send_json_to({"type": "ping"})
        assert await ws.receive_json_from(timeout=3) == {"type": "pong"}
    finally:
        await ws.disconnect()
    assert await refusals() == []


@pytest.mark.parametrize(
    ("cert", "verify", "reason"),
    [
        ("unbound", "SUCCESS", "certificate_not_bound_to_device"),
        ("revoked", "SUCCESS", "certificate_revoked"),
        ("mine", "FAILED:certificate has expired", "certificate_rejected_by_proxy"),
    ],
)
async def test_device_socket__certificate_refused__closed_4403_with_the_reason(
    phone, cert_policy, builtin_certs, trusted_proxy, cert, verify, reason
):
    ws = communicator(peer=PROXY, headers=cert_headers(builtin_certs[cert].pem, verify), token=phone.token)
    assert await handshake(ws) == (False, 4403)
    assert [(e.detail["rule"], e.detail["reason"]) for e in await refusals()] == [("client_certificate", reason)]


async def test_device_socket__forged_headers_from_untrusted_peer__ignored(
    phone, cert_policy, builtin_certs, trusted_proxy
):
    """A valid certificate and a forwarded address, sent straight to the app: the connection presents neither."""
    headers = {"X-Forwarded-For": PROXY, **cert_headers(builtin_certs["mine"].pem)}
    ws = communicator(peer=PHONE_IP, headers=headers, token=phone.token)
    assert await handshake(ws) == (False, 4403)
    [event] = await refusals()
    assert (event.detail["reason"], event.detail["service_ip"]) == ("certificate_missing", PHONE_IP)


async def test_device_socket__approver_cookie__same_certificate_lock(enrolled, subscriber, cert_policy, trusted_proxy):  # noqa: F811 (fixture imported above)
    """The approver web app's socket (session cookie, same origin) is locked like its HTTP API."""
    cookie = enrolled.client.cookies[django_settings.MFA_APPROVER_COOKIE_NAME].value
    device = await Device.objects.aget(subscriber=subscriber, kind=Device.Kind.WEBAUTHN)
    pem = (
        await sync_to_async(certificate_issue_from_csr)(
            tenant=await sync_to_async(lambda: subscriber.tenant)(),
            subscriber=subscriber,
            csr=make_csr()[1],
            device=device,
        )
    ).certificate_pem
    session = {"Host": "localhost", "Cookie": f"{django_settings.MFA_APPROVER_COOKIE_NAME}={cookie}"}
    assert await handshake(communicator(peer=PROXY, headers=session)) == (False, 4403)
    assert await handshake(communicator(peer=PROXY, headers={**session, **cert_headers(pem)})) == (True, None)
    assert [(e.device_id, e.detail["reason"]) for e in await refusals()] == [(device.pk, "certificate_missing")]


# --- the device token's own audit uses the same client address ---------------------------------------------------


async def test_device_socket__revoked_device__audited_with_the_forwarded_address(phone, trusted_proxy):
    device = await Device.objects.aget(pk=phone.device_id)
    await sync_to_async(device_revoke)(device=device, actor="test")
    ws = communicator(peer=PROXY, headers={"X-Forwarded-For": f"10.0.0.7, {PHONE_IP}"}, token=phone.token)
    assert await handshake(ws) == (False, 4401)
    event = await AuditEvent.objects.aget(kind="device.revoked_refused")
    assert event.ip == PHONE_IP


# --- through the real nginx of deploy/nginx-mtls.conf ------------------------------------------------------------


@pytest.mark.live
@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx-light)")
def test_device_socket__through_real_nginx_mtls(
    start_nginx,  # noqa: F811 (fixture imported above)
    start_servers,  # noqa: F811
    pki,  # noqa: F811 (the nginx server's TLS files)
    cert_policy,
    builtin_certs,
    phone,
    tenant,
    tmp_path,
):
    """nginx (connecting from 127.0.0.2, the trusted proxy) in front of daphne; the phone presents its certificate."""
    env = subprocess_env(database_url=live_database_url(), MFA_TRUSTED_PROXIES="127.0.0.2/32")
    [daphne] = start_servers("daphne", env)
    url = start_nginx(tenant_chain_pem(tenant=tenant), tenant_crls_pem(tenant=tenant), app_port=daphne.port)
    wss = url.replace("https://", "wss://") + "/ws/device"
    auth = {"Authorization": f"Device {phone.token}"}

    def tls(cert: str | None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(tmp_path / "server-ca.pem"))
        if cert:
            issued = builtin_certs[cert]
            context.load_cert_chain(
                write(tmp_path / f"ws-{cert}.crt", issued.pem), write(tmp_path / f"ws-{cert}.key", issued.key_pem)
            )
        return context

    def refused_status(uri: str, headers: dict[str, str], **kwargs: object) -> int:
        """A handshake closed before ``accept`` reaches a real client as an HTTP error status."""
        with pytest.raises(InvalidStatus) as caught:
            connect(uri, additional_headers={**auth, **headers}, open_timeout=15, **kwargs).close()
        return caught.value.response.status_code

    with connect(wss, ssl=tls("mine"), additional_headers=auth, open_timeout=15) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}
    assert refused_status(wss, {"X-Forwarded-For": "192.0.2.1"}, ssl=tls(None)) == 403
    assert refused_status(wss, {}, ssl=tls("unbound")) == 403
    # Forged certificate headers sent straight to the app from 127.0.0.1 (not a trusted proxy): ignored.
    forged = cert_headers(builtin_certs["mine"].pem)
    assert refused_status(f"ws://127.0.0.1:{daphne.port}/ws/device", forged) == 403
    events = AuditEvent.objects.filter(kind="policy.refused").order_by("id")
    assert [(e.detail["reason"], e.detail["service_ip"]) for e in events] == [
        ("certificate_missing", "127.0.0.1"),  # the address nginx saw, not the forwarded one the client wrote
        ("certificate_not_bound_to_device", "127.0.0.1"),
        ("certificate_missing", "127.0.0.1"),
    ]
