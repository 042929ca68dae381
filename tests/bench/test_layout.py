"""The production layout the README documents and the benchmark starts (deploy/Procfile), and the bench's arithmetic."""

from __future__ import annotations

import re
from pathlib import Path

from bench.ab import summary
from bench.cpu import CpuSnapshot, cpu_delta
from bench.load import percentile
from bench.servers import PROCFILE, procfile_commands

README = Path(__file__).resolve().parents[2] / "README.md"


def test_procfile__http_under_wsgi__websockets_under_asgi__and_the_worker():
    commands = procfile_commands(PROCFILE)
    assert set(commands) == {"http", "ws", "worker"}
    assert "--interface wsgi" in commands["http"]
    assert "mfa_server.wsgi:application" in commands["http"]
    assert "--interface asginl" in commands["ws"]
    assert "mfa_server.asgi:application" in commands["ws"]
    assert commands["worker"].strip() == "python manage.py run_worker"


def test_waiting_cap_default__half_the_room_the_procfile_threads_leave(settings):
    threads = re.search(r"\$\{MFA_HTTP_THREADS:-(\d+)\}", procfile_commands(PROCFILE)["http"])
    assert threads, "the http line's --blocking-threads default"
    room = int(threads.group(1)) - settings.MFA_HTTP_WORKING_REQUESTS
    assert settings.MFA_WAITING_CALLS_PER_APPLICATION == room // 2


def test_readme_production__runs_the_procfile_defaults():
    production = README.read_text().split("## Production", 1)[1]
    commands = procfile_commands(PROCFILE)
    defaults = {name: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", command).split() for name, command in commands.items()}
    readme_words = production.replace("\\\n", " ").split()
    for name in ("http", "ws"):
        flags = [word for word in defaults[name] if word.startswith("--")]
        assert all(flag in readme_words for flag in flags), name


def test_percentile__nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([7.0], 99) == 7.0


def test_cpu_delta__foreign_is_machine_busy_minus_every_group_and_interrupts():
    before = CpuSnapshot({"server:http": {1: 1.0}, "bench": {2: 0.5}}, busy=10.0, total=100.0, interrupts=1.0)
    after = CpuSnapshot({"server:http": {1: 2.0, 3: 0.5}, "bench": {2: 1.0}}, busy=14.0, total=104.0, interrupts=1.5)
    used = cpu_delta(before, after)
    assert used["server:http"] == 1.5
    assert used["bench"] == 0.5
    assert (used["machine"], used["capacity"], used["interrupts"], used["foreign"]) == (4.0, 4.0, 0.5, 1.5)


def test_ab_summary__median_of_the_per_pair_ratios():
    def result(rate: float, server_ms: float) -> dict:
        return {
            "round_trips_per_s": rate,
            "cpu_ms_per_round_trip": {"server": server_ms, "postgres": 2.0},
            "latency_ms": {"auth": {"p99": 50.0}},
        }

    pairs = [(result(100, 8), result(110, 7.2)), (result(200, 4), result(210, 4)), (result(50, 10), result(60, 9))]
    verdict = summary(pairs)
    assert verdict["round_trips_per_s B/A"] == {"median": 1.1, "min": 1.05, "max": 1.2, "each": [1.1, 1.05, 1.2]}
    assert verdict["server_cpu_ms_per_round_trip B/A"]["median"] == 0.9
    assert verdict["p99_auth B/A"]["each"] == [1.0, 1.0, 1.0]
