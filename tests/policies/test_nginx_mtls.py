"""A real nginx (deploy/nginx-mtls.conf) terminating TLS in front of the app, with certificates made here.

valid client certificate -> allowed; none / expired / other CA / revoked -> refused with the right
reason; certificate headers forged by a client (through nginx, or straight to the app from an
untrusted address) -> ignored. nginx connects to the app from 127.0.0.2, the only trusted proxy.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from approvals.models import ApprovalRequest
from approvals.relying_client import RelyingApiError, RelyingClient
from audit.models import AuditEvent
from devices.models import Device
from policies.models import Policy
from tests.helpers import free_port
from tests.policies.certs import MiniCa, escaped, key_pem, pem, write

REPO = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
)

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        NGINX is None, reason="nginx is not installed (apt-get install -y nginx-light; .ci/run installs it)"
    ),
]


def render_config(tmp: Path, *, listen_port: int, app_port: int) -> Path:
    """deploy/nginx-mtls.conf with test paths and ports, wrapped in a minimal main config."""
    site = (REPO / "deploy" / "nginx-mtls.conf").read_text()
    replacements = {
        # The test's one live server answers both upstreams (plain HTTP and /ws/).
        "server 127.0.0.1:8001;": f"server 127.0.0.1:{app_port};",
        "server 127.0.0.1:8002;": f"server 127.0.0.1:{app_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{listen_port} ssl;",
        "listen [::]:443 ssl;": "",
        "/etc/nginx/mfa/": f"{tmp}/",
        # Connect to the app from 127.0.0.2: the app trusts only that address, so the test's own
        # direct requests (from 127.0.0.1) are "an untrusted address".
        "proxy_pass http://mfa_app;": "proxy_bind 127.0.0.2; proxy_pass http://mfa_app;",
        "proxy_pass http://mfa_ws;": "proxy_bind 127.0.0.2; proxy_pass http://mfa_ws;",
    }
    for old, new in replacements.items():
        assert old in site, f"deploy/nginx-mtls.conf no longer contains {old!r}"
        site = site.replace(old, new)
    write(tmp / "site.conf", site)
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (tmp / name).mkdir()
        (tmp / name).chmod(0o777)  # workers may run as nobody when the tests run as root
    main = f"""
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/logs/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/logs/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/site.conf;
}}
"""
    return write(tmp / "nginx.conf", main)


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, object]:
    """Server TLS material plus a client CA with valid, expired, revoked and foreign certificates."""
    now = datetime.now(UTC)
    server_ca, client_ca, other_ca = MiniCa("Test Server CA"), MiniCa("Acme Client CA"), MiniCa("Evil Client CA")
    server_cert, server_key = server_ca.issue("localhost", server=True)
    certs = {
        "valid": client_ca.issue("webmail-service"),
        "expired": client_ca.issue(
            "webmail-service", not_before=now - timedelta(days=9), not_after=now - timedelta(days=1)
        ),
        "revoked": client_ca.issue("webmail-service"),
        "other_ca": other_ca.issue("webmail-service"),
    }
    client_ca.revoke(certs["revoked"][0])
    crl = client_ca.crl_pem()
    write(tmp_path / "server.crt", pem(server_cert))
    write(tmp_path / "server.key", key_pem(server_key))
    write(tmp_path / "server-ca.pem", server_ca.pem)
    pairs = {}
    for name, (cert, key) in certs.items():
        pairs[name] = (
            str(write(tmp_path / f"{name}.crt", pem(cert))),
            str(write(tmp_path / f"{name}.key", key_pem(key))),
        )
    return {"ca": client_ca, "crl": crl, "pairs": pairs, "certs": {k: v[0] for k, v in certs.items()}}


@pytest.fixture
def start_nginx(tmp_path: Path, live_server, pki) -> Iterator[Callable[[str, str], str]]:
    """``start_nginx(ca_bundle_pem, crl_pem)`` starts nginx (own prefix, free port, foreground) in front of
    the live app (or of the server on ``app_port``) and returns its https URL; it is stopped after the test."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(ca_bundle_pem: str, crl_pem: str, app_port: int | None = None) -> str:
        write(tmp_path / "client-ca.pem", ca_bundle_pem)
        write(tmp_path / "client-ca.crl", crl_pem)
        port = free_port()
        app_port = app_port or int(live_server.url.rsplit(":", 1)[1])
        config = render_config(tmp_path, listen_port=port, app_port=app_port)
        check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(config)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        process = subprocess.Popen(  # noqa: S603
            [NGINX, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        processes.append(process)
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, (tmp_path / "logs" / "error.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return f"https://localhost:{port}"
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.05)

    yield start
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    time.sleep(0.2)  # let the app's request threads see nginx's keep-alive connections close


@pytest.fixture
def nginx(start_nginx, pki) -> str:
    """nginx trusting the test's own client CA (an "uploaded external CA")."""
    return start_nginx(pki["ca"].pem, pki["crl"])


def client(url: str, app, pairs, cert: str | None, tmp_path: Path) -> RelyingClient:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise win over session.verify
    session.verify = str(tmp_path / "server-ca.pem")
    if cert:
        session.cert = pairs[cert]
    return RelyingClient(url, app.application.integration_key, app.secret_key, timeout=15, session=session)


def refusal(call) -> tuple[int, str, dict]:
    with pytest.raises(RelyingApiError) as caught:
        call()
    return caught.value.status, caught.value.body["code"], caught.value.body.get("fields", {})


@pytest.mark.django_db(transaction=True)
def test_nginx_mtls__client_certificates_through_a_real_proxy(
    nginx, live_server, pki, issued_app, phone, tmp_path, settings
):
    settings.MFA_TRUSTED_PROXIES = ["127.0.0.2/32"]
    Policy.objects.create(
        tenant=issued_app.application.tenant,
        client_cert_required=True,
        client_cert_ca="uploaded",
        client_cert_ca_pem=pki["ca"].pem,
        client_cert_crl_pem=pki["crl"],
    )
    pairs = pki["pairs"]

    # A valid certificate: the relying service is let in and the push is created.
    valid = client(nginx, issued_app, pairs, "valid", tmp_path)
    assert valid.check()["application"] == "Webmail"
    created = valid.auth("alice", context={"ip": "192.0.2.7"})
    assert created["status"] == "pending"
    assert ApprovalRequest.objects.filter(pk=created["txid"]).exists()

    # No certificate, expired, another CA, revoked: refused with the reason, nothing created.
    expected = {
        None: "certificate_missing",
        "expired": "certificate_expired",
        "other_ca": "certificate_untrusted",
        "revoked": "certificate_revoked",
    }
    for cert, reason in expected.items():
        relying = client(nginx, issued_app, pairs, cert, tmp_path)
        assert refusal(lambda r=relying: r.auth("alice")) == (
            403,
            "policy_denied",
            {"rule": "client_certificate", "reason": reason},
        ), cert
    assert ApprovalRequest.objects.count() == 1
    audited = [e.detail["reason"] for e in AuditEvent.objects.filter(kind="policy.refused").order_by("id")]
    assert audited == list(expected.values())
    # nginx itself judged the bad ones and said so (the app re-checked and agreed).
    log = (tmp_path / "logs" / "error.log").read_text()
    assert "client SSL certificate verify error" in log

    # Forged certificate headers THROUGH nginx are overwritten: still no certificate.
    forged = {"X-SSL-Client-Cert": escaped(pki["certs"]["valid"]), "X-SSL-Client-Verify": "SUCCESS"}
    bare = client(nginx, issued_app, pairs, None, tmp_path)
    bare.session.headers.update(forged)
    assert refusal(bare.check) == (
        403,
        "policy_denied",
        {"rule": "client_certificate", "reason": "certificate_missing"},
    )

    # The same forged headers sent STRAIGHT to the app from 127.0.0.1 (not a trusted proxy): ignored.
    direct_session = requests.Session()
    direct_session.trust_env = False
    direct_session.headers.update(forged)
    app_url = live_server.url.replace("127.0.0.1", "localhost")
    direct = RelyingClient(
        app_url, issued_app.application.integration_key, issued_app.secret_key, session=direct_session
    )
    assert refusal(direct.check) == (
        403,
        "policy_denied",
        {"rule": "client_certificate", "reason": "certificate_missing"},
    )
    assert ApprovalRequest.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_nginx_mtls__forwarded_for_counts_from_the_right(nginx, pki, issued_app, phone, tmp_path, settings):
    """Through nginx the relying service's address is the one nginx saw, whatever X-Forwarded-For it sends."""
    settings.MFA_TRUSTED_PROXIES = ["127.0.0.2/32"]
    Policy.objects.create(tenant=issued_app.application.tenant, service_networks_allow="192.0.2.0/24")
    spoofing = client(nginx, issued_app, pki["pairs"], None, tmp_path)
    spoofing.session.headers["X-Forwarded-For"] = "192.0.2.10"
    assert refusal(spoofing.check) == (
        403,
        "policy_denied",
        {"rule": "service_network", "reason": "service_network_not_allowed"},
    )
    event = AuditEvent.objects.get(kind="policy.refused")
    assert event.detail["service_ip"] == "127.0.0.1"  # the address nginx appended, not the forged one
    policy = Policy.objects.get(tenant=issued_app.application.tenant)
    policy.service_networks_allow = "127.0.0.1/32"
    policy.save(update_fields=["service_networks_allow"])  # a change the running server must see at once
    assert spoofing.check()["application"] == "Webmail"


def _csr(key: ec.EllipticCurvePrivateKey) -> str:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ignored")]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.django_db(transaction=True)
def test_nginx_mtls__builtin_ca_device_api_bound_to_the_device(
    start_nginx, pki, tenant, subscriber, phone, tmp_path, settings
):
    """Certificates issued by the built-in CA (pki), checked by pki.selectors.certificate_status behind nginx."""
    from pki.selectors import tenant_chain_pem, tenant_crls_pem
    from pki.services import ca_create_hierarchy, certificate_issue_from_csr, certificate_revoke

    settings.MFA_TRUSTED_PROXIES = ["127.0.0.2/32"]
    device = Device.objects.get(pk=phone.device_id)
    ca_create_hierarchy(tenant=tenant)
    files = {}
    for name, bound in (("mine", device), ("unbound", None), ("revoked", device)):
        key = ec.generate_private_key(ec.SECP256R1())
        issued = certificate_issue_from_csr(tenant=tenant, subscriber=subscriber, csr=_csr(key), device=bound)
        if name == "revoked":
            certificate_revoke(certificate=issued, reason="key_compromise")
        files[name] = (
            str(write(tmp_path / f"pki-{name}.crt", issued.certificate_pem)),
            str(write(tmp_path / f"pki-{name}.key", key_pem(key))),
        )
    Policy.objects.create(
        tenant=tenant, client_cert_required=True, client_cert_binding="device", client_cert_ca="builtin"
    )
    url = start_nginx(tenant_chain_pem(tenant=tenant), tenant_crls_pem(tenant=tenant))

    def me(cert: str | None) -> requests.Response:
        session = requests.Session()
        session.trust_env = False
        session.verify = str(tmp_path / "server-ca.pem")
        session.cert = files[cert] if cert else None
        return session.get(f"{url}/api/v1/device/me", headers={"Authorization": f"Device {phone.token}"}, timeout=15)

    assert me("mine").status_code == 200
    for cert, reason in (
        (None, "certificate_missing"),
        ("unbound", "certificate_not_bound_to_device"),
        ("revoked", "certificate_revoked"),
    ):
        response = me(cert)
        assert response.status_code == 403, (cert, response.content[:300])
        assert response.json()["code"] == "policy_denied"
        assert response.json()["fields"] == {"rule": "client_certificate", "reason": reason}, cert
    events = AuditEvent.objects.filter(kind="policy.refused", device_id=phone.device_id).order_by("id")
    assert [e.detail["reason"] for e in events] == [
        "certificate_missing",
        "certificate_not_bound_to_device",
        "certificate_revoked",
    ]
