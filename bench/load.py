"""The load: complete push round trips by many distinct users, from N threads with keep-alive connections."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from approvals.relying_client import RelyingClient
from bench.transport import KeepAliveSession
from devices.client import DeviceClient

LEGS = ("auth", "fetch", "approve", "status", "round_trip")
LOGIN_CONTEXT = {"ip": "203.0.113.7", "hostname": "webmail.example", "display_text": "Webmail login", "type": "webmail"}


@dataclass
class Sample:
    started: float
    finished: float
    legs: dict[str, float]  # seconds


@dataclass
class Recorder:
    """Shared by the load threads; appends are atomic under the GIL."""

    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def round_trip(
    relying: RelyingClient, device: DeviceClient, username: str, *, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """auth -> device fetches the request -> signed approve -> relying status must be ``allow``.

    Returns each leg's difference of ``clock`` (seconds by default; a CPU clock or a statement counter also do).
    """
    t0 = clock()
    # A distinct user agent per login: an identical signed request within the same second is a replay.
    created = relying.auth(username, context={**LOGIN_CONTEXT, "user_agent": f"bench/{time.time_ns()}"})
    t1 = clock()
    detail = device.show(created["txid"])
    t2 = clock()
    device.decide(detail["approval_id"], "approve", created["number"])
    t3 = clock()
    status = relying.status(created["txid"])
    t4 = clock()
    if status["result"] != "allow":
        raise AssertionError(f"status {status}")
    return {"auth": t1 - t0, "fetch": t2 - t1, "approve": t3 - t2, "status": t4 - t3, "round_trip": t4 - t0}


def _user_loop(
    server: str, ikey: str, skey: str, states: list[tuple[str, dict[str, Any]]], stop: threading.Event, rec: Recorder
) -> None:
    session = KeepAliveSession()
    relying = RelyingClient(server, ikey, skey, session=session)  # type: ignore[arg-type]  # duck-typed session
    devices = [(username, DeviceClient({**state, "server": server}, session=session)) for username, state in states]  # type: ignore[arg-type]
    index = 0
    while not stop.is_set():
        username, device = devices[index % len(devices)]
        index += 1
        started = time.perf_counter()
        try:
            legs = round_trip(relying, device, username)
        except Exception as exc:  # noqa: BLE001  (counted and reported, the run goes on)
            rec.errors.append(f"{type(exc).__name__}: {exc}")
            session.close()
            continue
        rec.samples.append(Sample(started, time.perf_counter(), legs))
    session.close()


def run_load(
    *,
    server: str,
    ikey: str,
    skey: str,
    devices: dict[str, dict[str, Any]],
    concurrency: int,
    warmup: float,
    duration: float,
    on_window: Callable[[str], None],
) -> tuple[Recorder, float, float]:
    """Run ``concurrency`` threads, each with its own users; ``on_window("start"/"end")`` brackets the measured window.

    Returns the recorder and the window's (start, end) on the ``perf_counter`` clock.
    """
    users = sorted(devices.items())
    if len(users) < concurrency:
        raise ValueError(f"need at least {concurrency} users, have {len(users)}")
    rec, stop = Recorder(), threading.Event()
    threads = [
        threading.Thread(target=_user_loop, args=(server, ikey, skey, users[i::concurrency], stop, rec), daemon=True)
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    on_window("start")
    window_start = time.perf_counter()
    time.sleep(duration)
    window_end = time.perf_counter()
    on_window("end")
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return rec, window_start, window_end


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(math.ceil(q / 100 * len(sorted_values)), 1)
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize(rec: Recorder, window_start: float, window_end: float) -> dict[str, Any]:
    """Round trips/s and per-leg p50/p95/p99 (ms) of the round trips that finished inside the window."""
    inside = [s for s in rec.samples if window_start <= s.finished <= window_end]
    legs = {}
    for leg in LEGS:
        values = sorted(s.legs[leg] * 1000 for s in inside)
        legs[leg] = {f"p{q}": round(percentile(values, q), 2) for q in (50, 95, 99)}
    return {
        "round_trips": len(inside),
        "round_trips_per_s": round(len(inside) / (window_end - window_start), 1),
        "errors": len(rec.errors),
        "first_errors": rec.errors[:3],
        "latency_ms": legs,
    }
