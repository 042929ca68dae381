"""Browser tests: Debian's chromium driven by Playwright against a live ASGI server (daphne) with websockets.

- The server is a ``daphne`` subprocess on a free port with its own SQLite file, migrated once per session.
  The page is loaded from ``http://localhost:<port>`` (a secure context; WebAuthn refuses 127.0.0.1), and the
  server's WebAuthn RP ID / origin are set to match that port before it starts.
- Chromium is the system package (``/usr/bin/chromium``), never a ``playwright install`` download; the tests
  skip with a reason when it is missing.
- Each test gets a fresh browser context with a CDP virtual authenticator (ctap2, internal, UV on), and a
  screenshot under ``test-output/`` when it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output"
CHROMIUM = os.environ.get("MFA_E2E_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM}: apt-get install -y --no-install-recommends chromium"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (requirements-dev.txt)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _chromium_missing()
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.e2e)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@dataclass
class LiveServer:
    port: int
    env: dict[str, str]
    db_path: Path

    @property
    def url(self) -> str:
        """The browser's address: localhost, so that WebAuthn accepts the origin."""
        return f"http://localhost:{self.port}"

    @property
    def api_url(self) -> str:
        """The relying service's address (plain loopback; signatures cover the host it uses)."""
        return f"http://127.0.0.1:{self.port}"

    def seed(self, name: str, **options: Any) -> dict[str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "tests.e2e.seed", name, *(f"{k}={v}" for k, v in options.items())],
            env=self.env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the server's database directly (assert persisted state without importing its ORM here)."""
        with sqlite3.connect(self.db_path, timeout=10) as db:
            return db.execute(sql, params).fetchall()


@pytest.fixture(scope="package")
def approver_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if _chromium_missing():
        pytest.skip(_chromium_missing() or "")
    workdir = tmp_path_factory.mktemp("e2e-server")
    db_path = workdir / "db.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.e2e.settings",
        DATABASE_URL=f"sqlite:///{db_path}",
        DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
        MFA_WEBAUTHN_RP_ID="localhost",
        MFA_API_HOSTNAME="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    port = free_port()  # picked just before the server binds it: less time for anything else to take it
    env.update(MFA_PUBLIC_URL=f"http://localhost:{port}", MFA_WEBAUTHN_ORIGINS=f"http://localhost:{port}")
    log_path = workdir / "daphne.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "mfa_server.asgi:application"],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for_port(port, timeout=30, process=process)
        yield LiveServer(port=port, env=env, db_path=db_path)
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
        if os.environ.get("MFA_E2E_SHOW_SERVER_LOG"):
            print(log_path.read_text(errors="replace")[-5000:])


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """One browser for this folder, closed when its tests are done (memory on a shared 2-core machine)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--disable-gpu", "--disable-quic", "--disable-sync"]
        )
        yield browser
        browser.close()


@dataclass
class Phone:
    """A browser page with a virtual platform authenticator: the phone running the approver web app."""

    page: Any
    cdp: Any
    authenticator_id: str
    console: list[str]

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line or "Refused to" in line]

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send(
            "WebAuthn.setUserVerified", {"authenticatorId": self.authenticator_id, "isUserVerified": verified}
        )

    def credentials(self) -> list[dict[str, Any]]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})["credentials"]


@pytest.fixture
def phone(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Phone]:
    context = chromium.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console: list[str] = []
    page.on("console", lambda message: console.append(f"console.{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    authenticator_id = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "ctap2Version": "ctap2_1",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]
    yield Phone(page=page, cdp=cdp, authenticator_id=authenticator_id, console=console)
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"{request.node.name}.png"), full_page=True)
        print("\n".join(["browser console:", *console]))
    context.close()
