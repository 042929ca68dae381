"""The fixed CPU cost of one HTTP request under the production WSGI server, before the product's own work.

Starts the ``http`` line of ``deploy/Procfile`` (granian, WSGI) twice: once serving a bare WSGI callable
(``bench/bare_wsgi.py``), then serving the product: ``GET /health`` is a plain Django view (the whole
middleware stack and request signals; no database, no Redis). Each gets the same sequential keep-alive
requests; prints the server's CPU microseconds per request.

    python bench/request_floor.py [--requests 5000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo, not bench/

from bench import cpu  # noqa: E402
from bench.servers import REPO, free_port, procfile_commands, production_env, stop_group  # noqa: E402

PRODUCT_APPLICATION = "mfa_server.wsgi:application"
# name -> (WSGI application, path requested)
FLOORS = {
    "bare WSGI callable": ("bench.bare_wsgi:application", "/health"),
    "Django GET /health": (PRODUCT_APPLICATION, "/health"),
    "DRF GET /auth/v2/ping": (PRODUCT_APPLICATION, "/auth/v2/ping"),
}


def serve(application: str, port: int) -> subprocess.Popen[bytes]:
    command = procfile_commands()["http"].strip()
    if PRODUCT_APPLICATION not in command:
        raise RuntimeError(f"deploy/Procfile's http line no longer serves {PRODUCT_APPLICATION}: {command}")
    command = command.replace(PRODUCT_APPLICATION, application)
    env = production_env(
        database_url=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mfa_bench"),
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"),
        http_port=port,
        ws_port=0,
    )
    return subprocess.Popen(
        ["bash", "-c", f"exec {command}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )


def connect_when_ready(port: int, timeout: float = 30.0) -> http.client.HTTPConnection:
    deadline = time.monotonic() + timeout
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/health")
            connection.getresponse().read()
            return connection
        except OSError:
            connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def server_cpu_us_per_request(application: str, path: str, requests: int) -> float:
    port = free_port()
    process = serve(application, port)
    try:
        connection = connect_when_ready(port)
        for _ in range(500):  # warm up: imports, connections, caches
            connection.request("GET", path)
            connection.getresponse().read()
        pids = cpu.tree_pids([process.pid])
        before = sum(cpu.process_cpu_seconds(pid) for pid in pids)
        for _ in range(requests):
            connection.request("GET", path)
            connection.getresponse().read()
        used = sum(cpu.process_cpu_seconds(pid) for pid in pids) - before
        connection.close()
        return used * 1e6 / requests
    finally:
        stop_group(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args(argv)
    for name, (application, path) in FLOORS.items():
        used = server_cpu_us_per_request(application, path, args.requests)
        print(f"{name:22} {used:6.0f} us of server CPU per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
