"""Where the CPU went during a measurement: per child process, this process, Redis, PostgreSQL,
and everything else on the machine (so a figure taken on a busy machine says so)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import redis

from bench.procs import Procs, cpu_seconds


class CpuMeter:
    """Where the CPU went during a measurement: each child, this process, and the Redis server."""

    def __init__(self, procs: Procs, redis_client: redis.Redis, postgres: bool = False):
        self.procs, self.redis, self.postgres = procs, redis_client, postgres
        self.before: dict[str, float] = {}
        self.started = 0.0

    def _now(self) -> dict[str, float]:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        values = {**self.procs.cpu(), "bench-client": usage.ru_utime + usage.ru_stime}
        try:
            info = self.redis.info("cpu")
            values["redis-server"] = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        except redis.RedisError:
            pass
        if self.postgres:
            values["postgres (all backends)"] = _postgres_cpu()
        values["_machine"] = _machine_busy()
        return values

    def start(self) -> None:
        self.before = self._now()
        self.started = time.perf_counter()

    def report(self) -> dict[str, float]:
        """CPU seconds used by each since `start()`, with the wall time as `wall`."""
        after = self._now()
        out = {name: round(after[name] - self.before.get(name, 0.0), 2) for name in after}
        machine = out.pop("_machine")
        # Whatever else ran on the machine meanwhile (other people's tests...): the figures of a
        # run with much of it are not comparable with those of a quiet one.
        out["other processes"] = round(max(0.0, machine - sum(out.values())), 2)
        out["wall"] = round(time.perf_counter() - self.started, 2)
        return out


def _machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(x) for x in fields]
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> float:
    """CPU seconds of every local `postgres` process (a local server's backends; read-only)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in raw:
            total += cpu_seconds(str(stat))
    return total


def other_load(report: dict[str, float]) -> float:
    """Cores kept busy by processes outside the benchmark, on average over the measurement."""
    return round(report.get("other processes", 0.0) / (report.get("wall") or 1.0), 2)


def format_cpu(report: dict[str, float]) -> str:
    wall = report.get("wall", 0.0) or 1.0
    parts = [
        f"{name} {secs:.1f}s ({100 * secs / wall:.0f}%)"
        for name, secs in sorted(report.items(), key=lambda kv: -kv[1])
        if name != "wall"
    ]
    busy = sum(v for k, v in report.items() if k != "wall")
    return (
        f"cpu over {wall:.1f}s wall ({busy / wall:.2f} of {os.cpu_count()} cores busy): "
        + ", ".join(parts)
    )


def wait_for_quiet(
    max_wait_s: float, threshold_cores: float = 0.25, window_s: float = 2.0
) -> float:
    """Wait (at most `max_wait_s`) until the machine is nearly idle; return the busy cores seen.

    On a shared machine someone else's test run can take a core away from the benchmark; the
    figures are only comparable when taken on a quiet machine.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        before = _machine_busy()
        time.sleep(window_s)
        busy = (_machine_busy() - before) / window_s
        if busy <= threshold_cores or time.monotonic() >= deadline:
            return round(busy, 2)
