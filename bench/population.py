"""Enrolled users for the benchmark: seeded through the services, devices activated through the device API."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.transport import KeepAliveSession
from devices.client import DeviceClient

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Population:
    ikey: str
    skey: str
    devices: dict[str, dict[str, Any]]  # username -> the device client's state (key, token, server)


def seed(*, users: int, env: dict[str, str], repo: Path = REPO) -> dict[str, Any]:
    """Run ``bench.seed`` of the server's checkout with the server's environment; returns its JSON."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.seed", "--users", str(users)], cwd=repo, env=env, check=True, capture_output=True
    )
    return json.loads(out.stdout)


def activate_all(server: str, codes: list[list[str]], *, parallel: int = 8) -> dict[str, dict[str, Any]]:
    """Activate one device per ``[username, code]`` through ``POST /api/v1/device/activate``."""

    def activate(chunk: list[list[str]]) -> list[tuple[str, dict[str, Any]]]:
        session = KeepAliveSession()
        done = [
            (username, DeviceClient.activate(code, server=server, name=f"{username} phone", session=session).state)
            for username, code in chunk
        ]
        session.close()
        return done

    with ThreadPoolExecutor(parallel) as pool:
        chunks = pool.map(activate, [codes[i::parallel] for i in range(parallel)])
    return {username: state for chunk in chunks for username, state in chunk}


def populate(*, server: str, users: int, env: dict[str, str], repo: Path = REPO) -> Population:
    seeded = seed(users=users, env=env, repo=repo)
    return Population(ikey=seeded["ikey"], skey=seeded["skey"], devices=activate_all(server, seeded["codes"]))
