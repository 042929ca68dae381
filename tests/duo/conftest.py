"""A live HTTPS server for Duo's unmodified client libraries: the app in-process, TLS from a private test CA.

TLS termination: Django's ``LiveServerThread`` (threaded WSGI, same test database, SQLite in-memory
or PostgreSQL) with its listening socket wrapped by ``ssl`` using a CA + ``localhost`` certificate made
with ``cryptography``. Clients get the CA file: ``duo_client.Auth(ca_certs=...)``,
``duo_universal.Client(duo_certs=...)``, and ``requests`` ``verify=...`` for the device client.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duo_client
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connections
from django.test.testcases import LiveServerThread

from approvals.services import IssuedApplication
from devices.client import DeviceClient
from duo.models import RedirectUri


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for DNS ``localhost`` (+ IP 127.0.0.1): (ca.pem, cert.pem, key.pem)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("MFA test CA"))
        .issuer_name(_name("MFA test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return _write_pki(tmp_path_factory.mktemp("duo-pki"))


class TLSLiveServerThread(LiveServerThread):
    """Django's live server thread, serving HTTPS: the listening socket is wrapped in a server TLS context."""

    cert_path: Path
    key_path: Path

    def _create_server(self, connections_override: Any = None) -> Any:
        server = super()._create_server(connections_override=connections_override)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.base_environ["HTTPS"] = "on"  # wsgi.url_scheme = https, request.is_secure()
        return server


@dataclass
class DuoServer:
    host: str
    port: int
    ca_path: Path
    sessions: list[requests.Session] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides ``verify``
        session.verify = str(self.ca_path)
        self.sessions.append(session)
        return session


@pytest.fixture
def duo_server(transactional_db: None, settings: Any, test_pki: tuple[Path, Path, Path]) -> Iterator[DuoServer]:
    ca_path, cert_path, key_path = test_pki
    overrides = {
        alias: conn
        for alias in connections
        if (conn := connections[alias]).vendor == "sqlite" and conn.is_in_memory_db()
    }
    for conn in overrides.values():
        conn.inc_thread_sharing()
    thread = TLSLiveServerThread("127.0.0.1", StaticFilesHandler, connections_override=overrides, port=0)
    thread.cert_path, thread.key_path = cert_path, key_path
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    server = DuoServer(host="localhost", port=thread.port, ca_path=ca_path)
    settings.MFA_PUBLIC_URL = server.url
    settings.MFA_API_HOSTNAME = "localhost"
    settings.MFA_STATUS_MAX_WAIT_SECONDS = 1
    settings.MFA_SYNC_AUTH_MAX_WAIT_SECONDS = 5
    yield server
    for session in server.sessions:  # end keep-alive connections, so their server threads finish now
        session.close()
    for worker in threading.enumerate():
        if "process_request_thread" in worker.name:
            worker.join(timeout=5)
    thread.terminate()
    for conn in overrides.values():
        conn.dec_thread_sharing()


@pytest.fixture
def duo_auth(duo_server: DuoServer, issued_app: IssuedApplication) -> duo_client.Auth:
    """Duo's own, unmodified Auth API client (5.7.0: signature v5, JSON bodies) pinned to our test CA."""
    return duo_client.Auth(
        ikey=issued_app.application.integration_key,
        skey=issued_app.secret_key,
        host=duo_server.host,
        port=duo_server.port,
        ca_certs=str(duo_server.ca_path),
    )


def activate_device(duo_server: DuoServer, activation_code: str) -> DeviceClient:
    """The reference device client activating over HTTPS with the code ``/enroll`` returned."""
    return DeviceClient.activate(activation_code, server=duo_server.url, session=duo_server.session())


@pytest.fixture
def redirect_uri(issued_app: IssuedApplication) -> str:
    uri = "https://app.example.test/duo-callback"
    RedirectUri.objects.create(application=issued_app.application, uri=uri)
    return uri
