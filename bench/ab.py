"""Interleaved A/B at one concurrency: both variants run side by side, the load alternates between them.

This VM's speed drifts by a quarter or more within minutes, so two runs taken minutes apart compare
the VM more than the code. Here both variants' Procfile processes run at once (the idle one costs
next to nothing), each on its own PostgreSQL database and Redis database, and every round measures A
and B back to back for a few seconds (ABBA order, so neither always goes first). Each pair gives a
ratio B/A; the median of the ratios is the verdict, the spread says how much to trust it.

    python bench/ab.py --b-env MFA_HTTP_WORKING_REQUESTS=2 [--a-repo /tmp/wt-old] [--rounds 6]

A variant is a checkout (``--a-repo`` / ``--b-repo``, default this one; a worktree of another commit
with this checkout's ``.venv`` linked in) plus environment overrides (``--a-env`` / ``--b-env``
``NAME=VALUE``, repeatable). Prints each measurement and the summary; writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo, not bench/ (a sibling shadows `approvals`)

from bench.approvals import CpuGroups, measure_level, write_result  # noqa: E402
from bench.population import Population, populate  # noqa: E402
from bench.servers import REPO, ServerProcesses, free_port, production_env  # noqa: E402


@dataclass
class Variant:
    name: str
    repo: Path
    overrides: dict[str, str]
    processes: ServerProcesses | None = None
    server: str = ""
    population: Population | None = None
    groups: CpuGroups | None = None

    def start(self, args: argparse.Namespace, database_index: int) -> None:
        http_port, ws_port = free_port(), free_port()
        self.server = f"http://127.0.0.1:{http_port}"
        env = production_env(
            database_url=f"{args.database_url}_{self.name.lower()}",
            redis_url=f"{args.redis_url.rsplit('/', 1)[0]}/{database_index}",
            http_port=http_port,
            ws_port=ws_port,
        )
        env.update(self.overrides)
        self.processes = ServerProcesses(env, repo=self.repo)
        log_dir = Path(tempfile.mkdtemp(prefix=f"mfa-ab-{self.name}-"))
        print(f"{self.name}: {self.repo} {self.overrides or ''} on {self.server} (logs in {log_dir})")
        self.processes.start(log_dir)
        self.processes.wait_ready(f"{self.server}/health")
        self.population = populate(server=self.server, users=args.users, env=env, repo=self.repo)
        self.groups = CpuGroups(self.processes.pids, env["DATABASE_URL"], env["REDIS_URL"])

    def measure(self, args: argparse.Namespace) -> dict[str, Any]:
        assert self.population is not None
        assert self.groups is not None
        assert self.processes is not None
        result = measure_level(
            args,
            self.server,
            self.population,
            self.groups,
            args.concurrency,
            database_url=self.processes.env["DATABASE_URL"],
        )
        print(
            f"  {self.name}: {result['round_trips_per_s']:>6} round trips/s, server CPU "
            f"{result['cpu_ms_per_round_trip']['server']} ms/rt, postgres {result['cpu_ms_per_round_trip']['postgres']}"
            f", p99 auth {result['latency_ms']['auth']['p99']} ms, errors {result['errors']}"
        )
        return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("a", "b"):
        parser.add_argument(f"--{name}-repo", type=Path, default=REPO, help=f"checkout of variant {name.upper()}")
        parser.add_argument(
            f"--{name}-env", action="append", default=[], metavar="NAME=VALUE", help=f"override for {name.upper()}"
        )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=6, help="pairs of measurements")
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per measurement")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each measurement")
    parser.add_argument("--users", type=int, default=300, help="enrolled users per variant")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/mfa_bench_ab")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/3", help="B uses the next database number")
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    args.wait_idle = 0.0  # the other variant is idle; waiting would only let the VM drift between A and B
    return args


def summary(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    def ratios(pick: Any) -> list[float]:
        return [round(pick(b) / pick(a), 3) for a, b in pairs if pick(a)]

    rate = ratios(lambda r: r["round_trips_per_s"])
    server_cpu = ratios(lambda r: r["cpu_ms_per_round_trip"]["server"])
    postgres_cpu = ratios(lambda r: r["cpu_ms_per_round_trip"]["postgres"])
    p99_auth = ratios(lambda r: r["latency_ms"]["auth"]["p99"])
    return {
        name: {"median": round(statistics.median(values), 3), "min": min(values), "max": max(values), "each": values}
        for name, values in {
            "round_trips_per_s B/A": rate,
            "server_cpu_ms_per_round_trip B/A": server_cpu,
            "postgres_cpu_ms_per_round_trip B/A": postgres_cpu,
            "p99_auth B/A": p99_auth,
        }.items()
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    redis_db = int(args.redis_url.rsplit("/", 1)[1])
    variants = [
        Variant(name, repo, dict(item.split("=", 1) for item in overrides))
        for name, repo, overrides in (("A", args.a_repo, args.a_env), ("B", args.b_repo, args.b_env))
    ]
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    try:
        for index, variant in enumerate(variants):
            variant.start(args, redis_db + index)
        for round_index in range(args.rounds):
            print(f"round {round_index + 1}/{args.rounds}")
            order = variants if round_index % 2 == 0 else variants[::-1]
            measured = {variant.name: variant.measure(args) for variant in order}
            pairs.append((measured["A"], measured["B"]))
    finally:
        for variant in variants:
            if variant.processes:
                variant.processes.stop()
    verdict = summary(pairs)
    for name, values in verdict.items():
        print(f"{name}: median {values['median']} (min {values['min']}, max {values['max']})")
    write_result(
        "ab",
        variants={v.name: {"repo": str(v.repo), "overrides": v.overrides} for v in variants},
        note=args.note,
        summary=verdict,
        pairs=pairs,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
