"""Test doubles that play the outside parties for real: a signing relying service, a device with a key,
and a local HTTP server that records what the code under test sends to an outside service.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlencode

import pyotp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connections
from django.test import Client

from approvals.signing import authorization_header, canonical_string, sign
from audit.models import AuditEvent
from devices.proofs import canonical_payload, sign_payload


def wait_until(predicate: Callable[[], Any], *, timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def run_concurrently(count: int, call: Callable[[int], Any]) -> list[Any]:
    """``call(i)`` for i in range(count), released together (see ``run_together``)."""
    return run_together([lambda i=i: call(i) for i in range(count)])


def run_together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` in threads released at once by a barrier, each with its own DB connection.

    Returns their results in order; an exception a call raised is returned in its place.
    """
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = calls[index]()
        except Exception as exc:  # surfaced by the callers' assertions
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@dataclass
class SignedClient:
    """Calls the relying-service API through Django's test client, signing like a relying service (sig v5)."""

    client: Client
    ikey: str
    skey: str
    host: str = "localhost"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        date: str | None = None,
        skey: str | None = None,
    ) -> Any:
        raw = json.dumps(body).encode() if body is not None else b""
        date = date or formatdate()
        canonical = canonical_string(
            version=5,
            date=date,
            method=method,
            host=self.host,
            path=path,
            params=sorted((params or {}).items()),
            body=raw,
        )
        headers = {
            "HTTP_DATE": date,
            "HTTP_AUTHORIZATION": authorization_header(self.ikey, sign(skey or self.skey, canonical)),
            "HTTP_HOST": self.host,
        }
        url = path + (f"?{urlencode(params)}" if params else "")
        if method == "GET":
            return self.client.get(url, **headers)
        return self.client.generic(method, url, raw, content_type="application/json", **headers)

    def auth(self, username: str, **context: Any) -> Any:
        return self.request("POST", "/api/v1/auth", body={"username": username, "async": True, "context": context})

    def status(self, txid: str) -> Any:
        return self.request("GET", f"/api/v1/auth/{txid}")


@dataclass
class PhoneDevice:
    """A phone: an enrolled P-256 key plus the device API token."""

    client: Client
    key: ec.EllipticCurvePrivateKey
    device_id: int
    token: str

    @staticmethod
    def new_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        return key, pem

    @property
    def headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Device {self.token}"}

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1/device/{path}", **self.headers)

    def proof(self, approval_id: str, decision: str, number: str = "", timestamp: int | None = None) -> dict[str, Any]:
        timestamp = int(time.time()) if timestamp is None else timestamp
        payload = canonical_payload(approval_id=approval_id, decision=decision, number=number, timestamp=timestamp)
        return {
            "decision": decision,
            "number": number,
            "timestamp": timestamp,
            "signature": sign_payload(self.key, payload),
        }

    def submit(self, approval_id: str, proof: dict[str, Any]) -> Any:
        return self.client.post(
            f"/api/v1/device/approvals/{approval_id}/decision", proof, content_type="application/json", **self.headers
        )

    def decide(self, approval_id: str, decision: str, number: str = "") -> Any:
        return self.submit(approval_id, self.proof(approval_id, decision, number))


def db_text() -> str:
    """Every value of every row of every table, as text: for "this secret is stored nowhere" checks."""
    connection = connections["default"]
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (introspected names)
            for row in cursor.fetchall():
                chunks.extend(str(bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else v) for v in row)
    return "\n".join(chunks)


def audit_kinds(**filters: Any) -> list[str]:
    """The kinds of the audit events matching ``filters``, oldest first."""
    return list(AuditEvent.objects.filter(**filters).order_by("id").values_list("kind", flat=True))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing uses right now, for a server the test starts next.

    Picked outside the kernel's ephemeral range: every outgoing connection (to PostgreSQL, Redis, from a
    browser) takes its local port from that range, so none of them can take this one before the server
    binds it (a port the kernel hands out, as with ``bind(0)``, comes from that very range).
    """
    low, high = _ephemeral_port_range()
    choices = [port for port in range(10_000, 65_536) if not low <= port <= high]
    for port in random.sample(choices, 100):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port outside the ephemeral range")


def _ephemeral_port_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default
    return int(low), int(high)


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts on 127.0.0.1:``port``; fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


# --- a local HTTP server that records requests ---------------------------------------------------


@dataclass
class RecordedRequest:
    """One request a ``RecordingServer`` received (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival
    answered: threading.Event = field(default_factory=threading.Event)  # set once the answer was sent (or refused)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body, one value a name."""
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """The (user, password) of an ``Authorization: Basic`` header, if there is one."""
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user, password


@dataclass
class Reply:
    """What a ``RecordingServer`` answers: ``delay`` seconds later (a slow or hanging peer)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def json_reply(status: int, payload: Any, delay: float = 0.0) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json"}, delay)


class _RecordingHandler(BaseHTTPRequestHandler):
    server: _RecordingHttpServer

    def _record_and_answer(self) -> None:
        recording = self.server.recording
        length = int(self.headers.get("Content-Length") or 0)
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length),
            at=time.monotonic(),
        )
        recording.requests.append(request)  # before answering: an answer may depend on how many came
        reply = recording.answer(request)
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
        except OSError:  # the client gave up waiting (its timeout)
            self.close_connection = True
        finally:
            request.answered.set()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record_and_answer  # noqa: N815

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass


class _RecordingHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, recording: RecordingServer) -> None:
        self.recording = recording
        super().__init__(("127.0.0.1", 0), _RecordingHandler)


class RecordingServer:
    """A local HTTP server on 127.0.0.1, serving from a thread: keeps every request in ``requests``
    (in arrival order) and answers each with ``answer(request)``.

    It listens from construction on (on a port the kernel picks, so two servers never race for one);
    ``stop()``, or leave its ``with`` block, to shut it down.
    """

    def __init__(self, answer: Callable[[RecordedRequest], Reply]) -> None:
        self.answer = answer
        self.requests: list[RecordedRequest] = []
        self._server = _RecordingHttpServer(self)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_answered(self, count: int, *, timeout: float = 5.0, path_suffix: str = "") -> list[RecordedRequest]:
        """Wait until ``count`` requests (whose path ends with ``path_suffix``) came and were answered."""
        matching = wait_until(
            lambda: len(found := [r for r in self.requests if r.path.endswith(path_suffix)]) >= count and found,
            timeout=timeout,
        )
        for request in matching:
            assert request.answered.wait(timeout), f"{request.path} not answered within {timeout}s"
        return matching

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class PasscodeDevice:
    """A phone with its passcode (TOTP) secret provisioned over the device API."""

    device: PhoneDevice
    secret: str

    def totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(self.secret)
