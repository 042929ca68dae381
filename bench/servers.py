"""Start the production processes of ``deploy/Procfile`` against PostgreSQL and Redis, and stop them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
PROCFILE = REPO / "deploy" / "Procfile"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_commands(path: Path = PROCFILE) -> dict[str, str]:
    """``name -> shell command`` of every process line."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return dict(line.split(":", 1) for line in lines if line and not line.startswith("#"))  # type: ignore[misc]


def production_env(*, database_url: str, redis_url: str, http_port: int, ws_port: int) -> dict[str, str]:
    """The environment production needs (no DEBUG, real secrets), on top of this process's PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MFA_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        DJANGO_SETTINGS_MODULE="mfa_server.settings",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SECRET_KEY=Fernet.generate_key().decode(),
        MFA_SECRET_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        MFA_CA_KEY_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        MFA_API_HOSTNAME="127.0.0.1",
        MFA_PUBLIC_URL=f"http://127.0.0.1:{http_port}",
        MFA_HTTP_PORT=str(http_port),
        MFA_WS_PORT=str(ws_port),
        MFA_LOG_LEVEL="WARNING",  # the console push backend logs every push at INFO
    )
    return env


def ensure_database(database_url: str) -> None:
    """Create the benchmark's PostgreSQL database when it does not exist yet (a fresh machine has none)."""
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    name = info.pop("dbname")
    with psycopg.connect(**info, dbname="postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_upkeep(database_url: str) -> None:
    """VACUUM (ANALYZE) the benchmark's database, as autovacuum keeps a production database.

    This machine's PostgreSQL runs with autovacuum off, which a production server does not. Without it the
    planner keeps the statistics of the empty tables the run starts with: a statement prepared then keeps
    a sequential scan for a lookup by primary key, so each read of a transaction walks every row stored so
    far (0.3 to 2.2 ms and 165 to 650 buffers per read within three minutes at concurrency 32). Every
    decided request also leaves a dead row version behind for good.
    """
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")


@dataclass
class ServerProcesses:
    """The running Procfile processes; each leads its own process group."""

    env: dict[str, str]
    repo: Path = REPO  # the checkout to run (another worktree for an A/B of two commits)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, log_dir: Path) -> None:
        ensure_database(self.env["DATABASE_URL"])
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=self.repo,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        log_dir.mkdir(parents=True, exist_ok=True)
        for name, command in procfile_commands(self.repo / "deploy" / "Procfile").items():
            log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115  (closed with the process)
            self.processes[name] = subprocess.Popen(
                ["bash", "-c", f"exec {command.strip()}"],
                cwd=self.repo,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def wait_ready(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see its log")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{url} not ready after {timeout}s")

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def stop(self) -> None:
        for process in self.processes.values():
            stop_group(process)


def stop_group(process: subprocess.Popen[bytes], *, grace_seconds: float = 10) -> None:
    """SIGTERM the process group ``process`` leads (started with ``start_new_session``); SIGKILL it when
    it is still running ``grace_seconds`` later (granian may take that long while its workers start)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace_seconds)
    except ProcessLookupError:
        pass
