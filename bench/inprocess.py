"""Where a round trip's server CPU goes: the same round trips, in one process, with no HTTP server.

The relying and device clients call the production WSGI entry (``mfa_server.wsgi``) directly (same
settings, middleware and PostgreSQL as production), one round trip at a time, and this prints the CPU
milliseconds and SQL statements of each leg. ``--profile FILE`` also writes a cProfile of the measured
round trips (open it with ``python -m pstats FILE``). Use it to find the cost; use ``bench/approvals.py``
to report figures.

    python bench/inprocess.py [--round-trips 300] [--users 50] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo, not bench/ (this file shadows `approvals`)

from bench.servers import ensure_database, production_env  # noqa: E402
from bench.transport import Response  # noqa: E402

SERVER = "http://127.0.0.1"


def wsgi_environ(method: str, url: str, *, body: bytes = b"", headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The WSGI environ of one request to ``url``, as an HTTP server would pass it to the application."""
    parts = urlsplit(url)
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    return environ


class WsgiSession:
    """The clients' ``session``, served by calling the WSGI application in this process."""

    def __init__(self, application: Any) -> None:
        self.application = application

    def request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        json: Any = None,  # noqa: A002  (the name requests uses)
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        headers = dict(headers or {})
        if json is not None:
            data = _dumps(json)
            headers["Content-Type"] = "application/json"
        environ = wsgi_environ(method, url, body=data or b"", headers=headers)
        statuses: list[str] = []
        content = b"".join(self.application(environ, lambda status, _headers, _exc=None: statuses.append(status)))
        return Response(int(statuses[0].split()[0]), content)

    def post(self, url: str, **kwargs: Any) -> Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        pass


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--round-trips", type=int, default=300)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mfa_bench_inprocess"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4"))
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the measured round trips")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = production_env(database_url=args.database_url, redis_url=args.redis_url, http_port=80, ws_port=81)
    env["MFA_PUBLIC_URL"] = SERVER
    os.environ.update(env)
    ensure_database(args.database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from approvals.relying_client import RelyingClient
    from bench.load import LEGS, round_trip
    from bench.population import seed
    from devices.client import DeviceClient

    call_command("migrate", verbosity=0)
    from mfa_server.wsgi import application  # the production entry, as the HTTP server calls it

    session = WsgiSession(application)
    seeded = seed(users=args.users, env=dict(os.environ))
    devices = [
        (username, DeviceClient.activate(code, server=SERVER, name=f"{username} phone", session=session))  # type: ignore[arg-type]
        for username, code in seeded["codes"]
    ]
    relying = RelyingClient(SERVER, seeded["ikey"], seeded["skey"], session=session)  # type: ignore[arg-type]

    def run(index: int, clock: Any) -> dict[str, float]:
        username, device = devices[index % len(devices)]
        return round_trip(relying, device, username, clock=clock)

    for index in range(min(20, args.round_trips)):  # warm the caches and connections first
        run(index, time.perf_counter)
    statements: Counter[str] = Counter()
    with CaptureQueriesContext(connection) as captured:
        legs = round_trip(relying, devices[0][1], devices[0][0], clock=lambda: len(captured.captured_queries))
    statements.update({leg: int(count) for leg, count in legs.items()})

    cpu: Counter[str] = Counter()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    for index in range(args.round_trips):
        cpu.update(run(index, time.thread_time))
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    print(f"{args.round_trips} round trips in one process (CPU of this thread; the clients' share included)")
    print(f"  {'leg':12} {'CPU ms':>8} {'SQL':>5}")
    for leg in LEGS:
        print(f"  {leg:12} {cpu[leg] * 1000 / args.round_trips:8.2f} {statements[leg]:5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
