"""CPU accounting from /proc: process trees, PostgreSQL backends of one database, and the whole machine."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may contain spaces)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one live process (0 when it is gone)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK if fields else 0.0


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def tree_pids(roots: Iterable[int]) -> set[int]:
    """The given processes and all their live descendants."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields:
            children.setdefault(int(fields[1]), []).append(pid)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def pids_with_cmdline(*needles: str) -> set[int]:
    """Processes whose command line contains every needle (e.g. a PostgreSQL backend's database name)."""
    found = set()
    for pid in _all_pids():
        try:
            cmdline = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(needle in cmdline for needle in needles):
            found.add(pid)
    return found


def machine_busy_seconds() -> tuple[float, float, float]:
    """(busy, total, interrupts) CPU seconds of all cores since boot, from the first line of /proc/stat.

    ``interrupts`` (irq + softirq, e.g. loopback TCP) is busy time that no process is charged with.
    """
    values = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user/nice
    return (total - idle) / CLK_TCK, total / CLK_TCK, (values[5] + values[6]) / CLK_TCK


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds per process of each named group, plus the machine's busy, total and interrupt seconds."""

    groups: dict[str, dict[int, float]]
    busy: float
    total: float
    interrupts: float


def snapshot(groups: dict[str, set[int]]) -> CpuSnapshot:
    busy, total, interrupts = machine_busy_seconds()
    return CpuSnapshot(
        {name: {pid: process_cpu_seconds(pid) for pid in pids} for name, pids in groups.items()},
        busy,
        total,
        interrupts,
    )


def cpu_delta(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """CPU seconds used between two snapshots: per group, ``machine`` busy, ``capacity``, ``interrupts`` and
    ``foreign`` (busy time of neither a group nor interrupts: the neighbours).

    A process that appeared in between counts from zero; one that vanished is lost (they are rare here).
    """
    used = {
        name: sum(seconds - before.groups.get(name, {}).get(pid, 0.0) for pid, seconds in pids.items())
        for name, pids in after.groups.items()
    }
    machine = after.busy - before.busy
    used["machine"] = machine
    used["capacity"] = after.total - before.total
    used["interrupts"] = after.interrupts - before.interrupts
    used["foreign"] = max(machine - sum(v for k, v in used.items() if k not in ("machine", "capacity")), 0.0)
    return used
