"""Fixtures for tests with real processes, real sockets and fake external providers.

- ``ServerProcess``: a subprocess in its own process group, started until it answers HTTP, killed as a group.
- ``HttpRecorder``: the shared recording HTTP server (``tests.helpers.RecordingServer``) answering JSON from a
  script (a relying service's webhook receiver, or a fake FCM HTTP v1 + OAuth token endpoint).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from django.db import connection

from bench.servers import stop_group
from devices.client import DeviceClient
from tests.helpers import PhoneDevice, RecordedRequest, RecordingServer, free_port, json_reply

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


# --- environment ----------------------------------------------------------------------------------


# How long a background task needs to record what just happened (a few milliseconds, plus slack for a busy CI box).
SETTLE_SECONDS = 0.3

# How long a server may take to answer its first HTTP request: several processes importing Django at
# once on a slow 2-core CI machine take far longer than on a laptop.
READY_SECONDS = 60.0


def live_database_url() -> str:
    """A DATABASE_URL for subprocesses that reaches this test's database (PostgreSQL, or the SQLite test file).

    Only committed data is visible there, so the calling test must be ``django_db(transaction=True)``.
    """
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        assert "memory" not in str(s["NAME"]), "an in-memory SQLite test database cannot be shared"
        return f"sqlite:///{s['NAME']}"
    assert connection.vendor == "postgresql", f"no live database URL for {connection.vendor}"
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def subprocess_env(*, database_url: str, redis: str = "", **extra: str) -> dict[str, str]:
    """The environment of a server or CLI subprocess: the test settings with an explicit database."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=database_url, PYTHONUNBUFFERED="1", **extra)
    if redis:
        env["REDIS_URL"] = redis
    return env


def device_client(server: str, phone: PhoneDevice) -> DeviceClient:
    """The reference device client holding a test phone's key and token, talking to ``server``."""
    pem = phone.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return DeviceClient({"server": server, "device_token": phone.token, "private_key_pem": pem})


def run_json(args: list[str], env: dict[str, str], *, timeout: float = 30, expect_rc: int = 0) -> Any:
    """Run a CLI (``python -m ...`` / ``manage.py ...``) and parse the one JSON document it prints."""
    done = subprocess.run([PYTHON, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == expect_rc, f"{args[:3]} rc={done.returncode}\nstdout={done.stdout}\nstderr={done.stderr}"
    return json.loads(done.stdout)


# --- server processes ------------------------------------------------------------------------------


def wait_for_http(port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until 127.0.0.1:``port`` answers an HTTP request; fail early if ``process`` died.

    An open port is not enough: granian listens before its workers have imported the application, and
    a request sent then waits for that import. Any HTTP answer (even an error status) means the
    application is loaded.
    """
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before answering on {port}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=min(left, 5.0))
        try:
            connection.request("GET", "/health")
            connection.getresponse().read()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
        finally:
            connection.close()
    raise TimeoutError(f"no HTTP answer on 127.0.0.1:{port} after {timeout}s")


@dataclass
class ServerProcess:
    """A server subprocess in its own process group, with its output in a log file (``port`` 0: no port)."""

    args: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> ServerProcess:
        """Start the process (its own session, so teardown can kill the whole group)."""
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603
                self.args,
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, *, timeout: float = READY_SECONDS) -> ServerProcess:
        """Wait until the server answers HTTP (a process without a port: until it runs); on failure stop
        the process and show its log."""
        try:
            if self.port:
                wait_for_http(self.port, timeout=timeout, process=self.process)
            elif self.process is None or self.process.poll() is not None:
                raise RuntimeError("process exited")
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"{self.args} failed to start: {exc}\n{self.log()}") from exc
        return self

    def log(self, *, tail: int | None = 4000) -> str:
        """The process's output so far (its last ``tail`` characters; None: all of it)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-tail:] if tail else text

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process, grace_seconds=5)


@pytest.fixture
def start_servers(tmp_path: Path) -> Iterator[Callable[..., list[ServerProcess]]]:
    """``start_servers(kind, env, count=1)``: daphne (``"daphne"``) or ``manage.py serve`` (``"serve"``)
    processes on free ports, started in parallel, ready when returned, killed (process group) after the test."""
    started: list[ServerProcess] = []

    def start(kind: str, env: dict[str, str], count: int = 1) -> list[ServerProcess]:
        batch = []
        for _ in range(count):
            port = free_port()
            if kind == "daphne":
                args = [
                    PYTHON,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-v",
                    "0",
                    "mfa_server.asgi:application",
                ]
            else:
                args = [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]
            server = ServerProcess(args, env, port, tmp_path / f"{kind}-{port}.log")
            started.append(server)
            batch.append(server.spawn())
        return [server.wait_ready() for server in batch]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_procfile(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], dict[str, ServerProcess]]]:
    """``start_procfile(env)`` runs every line of ``deploy/Procfile`` (the documented production processes)
    with HTTP and WebSocket ports chosen here; returns them by name, ready; kills them after the test."""
    started: list[ServerProcess] = []

    def start(env: dict[str, str]) -> dict[str, ServerProcess]:
        ports = {"http": free_port(), "ws": free_port()}
        env = {
            **env,
            "PATH": f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}",
            "MFA_HTTP_PORT": str(ports["http"]),
            "MFA_WS_PORT": str(ports["ws"]),
        }
        processes = {}
        for line in (REPO / "deploy" / "Procfile").read_text().splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, command = (part.strip() for part in line.split(":", 1))
            server = ServerProcess(["bash", "-c", f"exec {command}"], env, ports.get(name, 0), tmp_path / f"{name}.log")
            started.append(server)
            processes[name] = server.spawn()
        for server in processes.values():
            server.wait_ready()
        return processes

    yield start
    for server in started:
        server.stop()


# --- scripted HTTP receivers ----------------------------------------------------------------------


JsonResponder = Callable[[RecordedRequest], tuple[int, Any, float]]


class HttpRecorder(RecordingServer):
    """The shared recording server answering ``responder(request) -> (status, json_body, delay_seconds)``."""

    def __init__(self, responder: JsonResponder) -> None:
        super().__init__(lambda request: json_reply(*responder(request)))

    def wait_answered(self, count: int, *, timeout: float = 5.0, path_suffix: str = "") -> list[RecordedRequest]:
        """Wait until ``count`` requests (ending in ``path_suffix``) were answered, then let the
        sender's bookkeeping settle: it writes to the database right after our answer."""
        matching = super().wait_answered(count, timeout=timeout, path_suffix=path_suffix)
        time.sleep(SETTLE_SECONDS)
        return matching


@pytest.fixture
def http_recorder() -> Iterator[Callable[[JsonResponder], HttpRecorder]]:
    """``http_recorder(responder)`` starts a recording HTTP server; stopped after the test."""
    started: list[HttpRecorder] = []

    def start(responder: JsonResponder) -> HttpRecorder:
        recorder = HttpRecorder(responder)
        started.append(recorder)
        return recorder

    yield start
    for recorder in started:
        recorder.stop()


# --- fake FCM (HTTP v1 send + OAuth token endpoint) -----------------------------------------------

FCM_PROJECT = "demo-mfa"
FCM_ACCESS_TOKEN = "fake-access-token-for-tests"


# How long a held answer waits at most for ``release()``: far longer than any client timeout under test,
# so a client that does not give up by itself is seen hanging; teardown releases it at once.
HOLD_SECONDS = 60.0


@dataclass
class FakeFcm:
    """FCM HTTP v1 as firebase-admin sees it; ``answers[token] = (status, fcm_status, error_code, hold)``.

    An answer with ``hold`` seconds is held until ``release()`` (or ``hold`` seconds), then sent: a slow or
    hanging provider whose answer comes exactly when the test lets it, not when a sleep happens to end.
    """

    answers: dict[str, tuple[int, str, str, float]] = field(default_factory=dict)
    recorder: HttpRecorder = field(init=False)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        """Send every held answer now (and answer later requests without holding them)."""
        self.released.set()

    def sends(self) -> list[dict[str, Any]]:
        """Every message the fake received, in order (the ``message`` object of each send)."""
        return [r.json()["message"] for r in self.recorder.requests if r.path.endswith("/messages:send")]

    def sent_to(self, token: str) -> list[dict[str, Any]]:
        return [m for m in self.sends() if m.get("token") == token]

    def respond(self, request: RecordedRequest) -> tuple[int, Any, float]:
        if request.path == "/token":
            return 200, {"access_token": FCM_ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}, 0
        if request.path != f"/v1/projects/{FCM_PROJECT}/messages:send":
            return 404, {"error": {"code": 404, "message": "no such endpoint", "status": "NOT_FOUND"}}, 0
        token = request.json()["message"].get("token", "")
        if token not in self.answers:
            return 200, {"name": f"projects/{FCM_PROJECT}/messages/{len(self.recorder.requests)}"}, 0
        status, fcm_status, error_code, hold = self.answers[token]
        if hold:
            self.released.wait(hold)
        details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}]
        return status, {"error": {"code": status, "message": "fake error", "status": fcm_status, "details": details}}, 0


def service_account_json(token_uri: str) -> str:
    """A freshly generated service account whose OAuth token endpoint is the fake's."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": FCM_PROJECT,
            "private_key_id": "test-key-1",
            "private_key": pem,
            "client_email": f"mfa-push@{FCM_PROJECT}.iam.gserviceaccount.com",
            "client_id": "1234567890",
            "token_uri": token_uri,
        }
    )


@pytest.fixture
def fake_fcm(http_recorder, settings, monkeypatch) -> Iterator[FakeFcm]:
    """Routes the real firebase-admin client to a local fake and turns on the FCM push backend; held
    answers are released after the test, so nothing waits out ``HOLD_SECONDS``."""
    from firebase_admin import messaging

    fake = FakeFcm()
    fake.recorder = http_recorder(fake.respond)
    # firebase-admin 7.7 has no public endpoint override: the class attribute is read when the
    # (per-app, lazily created) messaging service is built, i.e. after this patch (probes.md §3).
    monkeypatch.setattr(messaging._MessagingService, "FCM_URL", f"{fake.recorder.url}/v1/projects/{{0}}/messages:send")
    settings.MFA_FCM_CREDENTIALS_JSON = service_account_json(f"{fake.recorder.url}/token")
    settings.MFA_PUSH_BACKENDS = ["devices.delivery.fcm.FcmPushBackend"]
    yield fake
    fake.release()
