"""One benchmark run and, within it, one scenario's gateway: environment, database, processes."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import cases as bench_cases
from bench.cpu import CpuMeter
from bench.procs import Databases, Procs, RedisService, free_port, log, python, tail, wait_port
from gateway.settings import Settings

# Where every gateway process of a bench run finds the trained reply model, as a deployment's
# processes do: trained once by `prepare_cache`, before any clock starts.
CACHE_DIR = Path(__file__).resolve().parent.parent / "var" / "cache"


def prepare_cache() -> None:
    """Train the reply model now if no earlier run kept it, so no API process trains it while
    it is being measured."""
    from gateway import replies

    replies.warm_up(CACHE_DIR)


TENANT = "default"


@dataclass
class Run:
    """What all scenarios of one run share."""

    root: Path
    redis: RedisService
    databases: Databases
    procs: Procs
    scale: float
    workers: int
    profile: bench_cases.Profile
    figures: dict[str, float] = field(default_factory=dict)

    def size(self, default: int, minimum: int = 100) -> int:
        return max(minimum, int(default * self.scale))


class Gateway:
    """One scenario's gateway: its environment, database, API key, and processes."""

    def __init__(self, run: Run, name: str, **env: str):
        self.run = run
        self.name = name
        self.data_dir = run.root / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.api_port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in _GATEWAY_ENV},
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            "GATEWAY_DATA_DIR": str(self.data_dir),
            "GATEWAY_CACHE_DIR": str(CACHE_DIR),  # the reply model trained once (`prepare_cache`)
            "GATEWAY_ENV": "development",  # a laptop's run: the documented default secrets
            "DATABASE_URL": run.databases.fresh(self.data_dir),
            "REDIS_URL": run.redis.url,
            "QUEUE_PREFIX": f"bench-{name}-{uuid.uuid4().hex[:6]}",
            "LOG_LEVEL": "warning",
            "PRESETS_DIR": str(Path(__file__).resolve().parent / "presets"),
            "GATEWAY_PORT": str(self.api_port),
            "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{self.api_port}",
            **env,
        }
        self.settings = Settings.from_env(self.env)
        self.key = ""

    async def prepare(self) -> None:
        from gateway.setup import create_key, prepare

        await prepare(self.settings)
        self.key = await create_key(
            self.settings,
            scopes=["reminders:write", "cases:write", "cases:read"],
            name="bench",
            tenant=TENANT,
        )

    def start_api(self, processes: int = 1) -> list[str]:
        """`api --port P` (and more processes on ports of their own); their base URLs.

        Clients spread over the processes themselves, as a load balancer would: with a handful of
        keep-alive connections, SO_REUSEPORT's hashing often puts them all on one process.
        """
        bases = []
        for i in range(processes):
            port = self.api_port if i == 0 else free_port()
            proc = self.run.procs.start(
                f"{self.name}-api", [*_gateway_cli(), "api", "--port", str(port)], self.env
            )
            wait_port(port, proc=proc)
            bases.append(f"http://127.0.0.1:{port}")
        return bases

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            self.run.procs.start(f"{self.name}-worker", [*_gateway_cli(), "worker"], self.env)

    def start(self, name: str, argv: list[str]) -> Any:
        return self.run.procs.start(f"{self.name}-{name}", argv, self.env)

    def meter(self) -> CpuMeter:
        meter = CpuMeter(
            self.run.procs,
            self.run.redis.client(),
            postgres=self.run.databases.kind == "postgresql",
        )
        meter.start()
        return meter

    def log_threads(self) -> None:
        if os.environ.get("BENCH_THREADS"):
            for name, per in self.run.procs.threads().items():
                busy = sorted(per.items(), key=lambda kv: -kv[1])[:4]
                log(
                    f"  threads of {name}: " + ", ".join(f"{tid} {secs:.1f}s" for tid, secs in busy)
                )

    def context(self, **extra: Any) -> dict[str, Any]:
        return {
            "database": self.run.databases.kind,
            "redis": self.run.redis.kind,
            "profile": self.run.profile.name,
            "preset": self.run.profile.preset,
            "locale": bench_cases.locale(),
            **extra,
        }


def _gateway_cli() -> list[str]:
    """`python -m gateway.cli`, or the same with phase timers (bench.trace) under BENCH_TRACE."""
    return [python(), "-m", "bench.trace" if os.environ.get("BENCH_TRACE") else "gateway.cli"]


def log_traces(run: Run) -> None:
    """Print the phase timings the traced processes wrote at exit (BENCH_TRACE), once each."""
    if not os.environ.get("BENCH_TRACE"):
        return
    for path in sorted(run.root.glob("**/*.log")):
        text = path.read_text(errors="replace").splitlines()
        lines = [x for x in text if x.startswith("BENCH_TRACE ")]
        for line in lines:
            log(f"phases of {path.stem}:")
            for label, v in json.loads(line[len("BENCH_TRACE ") :]).items():
                log(
                    f"  {label:34s} n={v['n']:<7d} total={v['total_s']:8.3f}s mean={v['mean_ms']:8.3f}ms"
                )
        for line in (x for x in text if x.startswith("BENCH_STATEMENTS ")):
            log(f"statements of {path.stem}:")
            for shape, v in json.loads(line[len("BENCH_STATEMENTS ") :]).items():
                log(f"  {shape:34s} executed={v['n']:<7d} rows={v['rows']}")
        if lines:
            path.rename(path.with_suffix(".traced"))


_GATEWAY_ENV = {
    f.metadata["env"] for f in Settings.__dataclass_fields__.values() if "env" in f.metadata
}


def worker_logs(run: Run) -> str:
    """The first traceback and the last lines of every process log of the run."""
    out = []
    for path in sorted(run.root.glob("**/*.log")):
        text = path.read_text(errors="replace")
        out.append(f"--- {path}")
        at = text.find("Traceback (most recent call last)")
        if at >= 0:
            out.append("first traceback:\n" + "\n".join(text[at:].splitlines()[:60]))
        out.append(tail(path))
    return "\n".join(out)
