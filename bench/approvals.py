"""Push approval round trips per second against the production serving layout.

Starts the processes of ``deploy/Procfile`` (granian WSGI for the HTTP API, granian ASGI for /ws, the
worker) on PostgreSQL and Redis, enrols many users (seeded through the services, devices activated
through the device API), then drives complete round trips at each concurrency level:
relying ``auth`` -> device fetches the request -> signed approve -> relying ``status`` = allow.

Prints round trips/s, p50/p95/p99 per leg, CPU milliseconds per round trip of the server processes,
their PostgreSQL backends and this load generator, and the foreign CPU (neighbours on the machine).
Writes the figures to ``bench/results/``. ``--attach URL`` measures an already running server instead.

    python bench/approvals.py [--levels 1,8,32] [--duration 10] [--users 600]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo, not bench/ (this file shadows `approvals`)

from bench import cpu  # noqa: E402
from bench.load import LEGS, run_load, summarize  # noqa: E402
from bench.population import populate  # noqa: E402
from bench.servers import REPO, ServerProcesses, database_upkeep, free_port, production_env  # noqa: E402

RESULTS = REPO / "bench" / "results"
LAYOUT_SETTINGS = ("MFA_HTTP_WORKERS", "MFA_HTTP_THREADS", "MFA_HTTP_WORKING_REQUESTS")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each level")
    parser.add_argument("--users", type=int, default=600, help="enrolled users, each with one device")
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mfa_bench")
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"))
    parser.add_argument("--http-workers", type=int, help="override MFA_HTTP_WORKERS of deploy/Procfile")
    parser.add_argument("--http-threads", type=int, help="override MFA_HTTP_THREADS of deploy/Procfile")
    parser.add_argument("--http-working-requests", type=int, help="override MFA_HTTP_WORKING_REQUESTS")
    parser.add_argument("--attach", metavar="URL", help="measure a running server (seeding uses this environment)")
    parser.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="with --attach: a server process to account CPU to (with its children)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each level, wait up to this long for a quiet machine",
    )
    parser.add_argument("--note", default="", help="free text stored with the result")
    return parser.parse_args(argv)


class CpuGroups:
    """Which processes are the server, its PostgreSQL backends, Redis (shared) and this load generator."""

    def __init__(self, server_roots: dict[str, int], database_url: str, redis_url: str) -> None:
        self.server_roots = server_roots  # process name -> pid; each counts with its children
        self.database = urlsplit(database_url).path.lstrip("/")
        self.redis_port = str(urlsplit(redis_url).port or 6379)

    def resolve(self) -> dict[str, set[int]]:
        return {
            **{f"server:{name}": cpu.tree_pids([pid]) for name, pid in self.server_roots.items()},
            "postgres": cpu.pids_with_cmdline("postgres: ", f" {self.database} "),
            "redis_shared": cpu.pids_with_cmdline("redis-server", f":{self.redis_port}"),
            "bench": {os.getpid()},
        }

    def snapshot(self) -> cpu.CpuSnapshot:
        return cpu.snapshot(self.resolve())


def wait_for_idle(max_wait: float, busy_below: float = 0.15, sample: float = 2.0) -> float:
    """Wait until the machine is less than ``busy_below`` busy over ``sample`` s (at most ``max_wait`` s).

    Returns the busy fraction of the last sample, so a level measured on a busy machine is visible.
    """
    deadline = time.monotonic() + max_wait
    while True:
        busy0, total0, _ = cpu.machine_busy_seconds()
        time.sleep(sample)
        busy1, total1, _ = cpu.machine_busy_seconds()
        busy = (busy1 - busy0) / max(total1 - total0, 1e-9)
        if busy < busy_below or time.monotonic() >= deadline:
            return busy


def _window_edge(
    moment: str, snapshots: dict[str, cpu.CpuSnapshot], groups: CpuGroups, database_url: str | None
) -> None:
    if moment == "start" and database_url:
        database_upkeep(database_url)
    snapshots[moment] = groups.snapshot()


def measure_level(
    args: argparse.Namespace,
    server: str,
    population: Any,
    groups: CpuGroups,
    concurrency: int,
    *,
    database_url: str | None,
) -> dict[str, Any]:
    """One measured load at ``concurrency``. The upkeep of ``database_url`` (None: a database not ours) runs
    after the warmup, so the planner's statistics include the warmup's requests when the window starts."""
    busy_before = wait_for_idle(args.wait_idle) if args.wait_idle else None
    snapshots: dict[str, cpu.CpuSnapshot] = {}
    rec, start, end = run_load(
        server=server,
        ikey=population.ikey,
        skey=population.skey,
        devices=population.devices,
        concurrency=concurrency,
        warmup=args.warmup,
        duration=args.duration,
        on_window=lambda moment: _window_edge(moment, snapshots, groups, database_url),
    )
    result = {"concurrency": concurrency, "seconds": round(end - start, 2), **summarize(rec, start, end)}
    if busy_before is not None:
        result["machine_busy_pct_before"] = round(100 * busy_before, 1)
    used = cpu.cpu_delta(snapshots["start"], snapshots["end"])
    used["server"] = sum(v for k, v in used.items() if k.startswith("server:"))
    trips = max(result["round_trips"], 1)
    result["server_cpu_ms_per_round_trip"] = {
        k.removeprefix("server:"): round(v * 1000 / trips, 2) for k, v in used.items() if k.startswith("server:")
    }
    result["cpu_ms_per_round_trip"] = {
        k: round(used[k] * 1000 / trips, 2) for k in ("server", "postgres", "bench", "redis_shared")
    }
    result["cpu_pct_of_machine"] = {
        k: round(100 * used[k] / used["capacity"], 1)
        for k in ("server", "postgres", "redis_shared", "bench", "interrupts", "foreign", "machine")
    }
    return result


def print_level(result: dict[str, Any]) -> None:
    lat, ms, pct = result["latency_ms"], result["cpu_ms_per_round_trip"], result["cpu_pct_of_machine"]
    print(
        f"\nconcurrency {result['concurrency']}: {result['round_trips_per_s']} round trips/s "
        f"({result['round_trips']} in {result['seconds']} s, {result['errors']} errors)"
    )
    print("  leg          p50 ms   p95 ms   p99 ms")
    for leg in LEGS:
        print(f"  {leg:<11}{lat[leg]['p50']:>8}{lat[leg]['p95']:>9}{lat[leg]['p99']:>9}")
    print(
        f"  CPU ms per round trip: server {ms['server']}, postgres {ms['postgres']}, bench {ms['bench']}, "
        f"redis (shared instance) {ms['redis_shared']}"
    )
    print(
        "  server CPU ms per round trip by process: "
        + ", ".join(f"{name} {value}" for name, value in result["server_cpu_ms_per_round_trip"].items())
    )
    print(
        f"  machine busy {pct['machine']}% of 2 cores: server {pct['server']}%, postgres {pct['postgres']}%, "
        f"bench {pct['bench']}%, redis {pct['redis_shared']}%, irq {pct['interrupts']}%, foreign {pct['foreign']}%"
    )
    for error in result["first_errors"]:
        print(f"  error: {error}")


def write_result(kind: str, **fields: Any) -> None:
    """Write ``bench/results/<kind>-<time>.json`` with when, which commit, which command and which Python."""
    record = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "python": interpreter(),
        **fields,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{kind}-{record['at'].replace(':', '')}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"\nwrote {path.relative_to(REPO)}")


def interpreter() -> str:
    """This process's Python and how it was configured: the server's too, unless a variant's ``PATH`` says
    otherwise. Production should run on a build with ``--enable-optimizations --with-lto`` (README)."""
    configured = sysconfig.get_config_var("CONFIG_ARGS") or "(no configure flags recorded)"
    return f"{platform.python_version()} at {sys.executable}, configured {configured}"


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    levels = [int(level) for level in args.levels.split(",")]
    processes = None
    print(f"python: {interpreter()}")
    if args.attach:
        server, env = args.attach.rstrip("/"), dict(os.environ)
        server_roots = {f"pid{pid}": pid for pid in args.server_pid}
    else:
        http_port, ws_port = free_port(), free_port()
        server = f"http://127.0.0.1:{http_port}"
        env = production_env(
            database_url=args.database_url, redis_url=args.redis_url, http_port=http_port, ws_port=ws_port
        )
        if args.http_workers:
            env["MFA_HTTP_WORKERS"] = str(args.http_workers)
        if args.http_threads:
            env["MFA_HTTP_THREADS"] = str(args.http_threads)
        if args.http_working_requests:
            env["MFA_HTTP_WORKING_REQUESTS"] = str(args.http_working_requests)
        processes = ServerProcesses(env)
        log_dir = Path(tempfile.mkdtemp(prefix="mfa-bench-"))
        print(f"starting deploy/Procfile (logs in {log_dir}) on {server}, ws on :{ws_port}")
        processes.start(log_dir)
        processes.wait_ready(f"{server}/health")
        server_roots = processes.pids
    try:
        began = time.monotonic()
        population = populate(server=server, users=args.users, env=env)
        print(f"{len(population.devices)} users enrolled with a device in {time.monotonic() - began:.1f} s")
        groups = CpuGroups(
            server_roots, env.get("DATABASE_URL", args.database_url), env.get("REDIS_URL", args.redis_url)
        )
        results = []
        for concurrency in levels:
            results.append(
                measure_level(
                    args,
                    server,
                    population,
                    groups,
                    concurrency,
                    database_url=None if args.attach else env["DATABASE_URL"],
                )
            )
            print_level(results[-1])
    finally:
        if processes:
            processes.stop()
    write_result(
        "approvals",
        layout="attached" if args.attach else {k: env[k] for k in LAYOUT_SETTINGS if k in env} or "Procfile defaults",
        users=len(population.devices),
        note=args.note,
        levels=results,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
