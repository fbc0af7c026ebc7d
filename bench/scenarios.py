"""The measured scenarios: intake, end-to-end SMS and email, and the naive baseline.

Each scenario gets a data directory, a database and a queue prefix of its own, starts the real
gateway processes configured only through the environment, measures, and stops them again.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import sqlalchemy as sa

from bench import cases as bench_cases
from bench.procs import (
    CpuMeter,
    Databases,
    Procs,
    RedisService,
    format_cpu,
    free_port,
    log,
    python,
    tail,
    wait_port,
)
from gateway.settings import Settings

TENANT = "default"
SMS_SID = "ACbench0000000000000000000000000000"
SMS_TOKEN = "bench-auth-token"


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
            "DATABASE_URL": run.databases.fresh(self.data_dir),
            "REDIS_URL": run.redis.url,
            "QUEUE_PREFIX": f"bench-{name}-{uuid.uuid4().hex[:6]}",
            "LOG_LEVEL": "warning",
            "GATEWAY_PORT": str(self.api_port),
            "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{self.api_port}",
            **env,
        }
        self.settings = Settings.from_env(self.env)
        self.key = ""

    async def prepare(self) -> None:
        from gateway.setup import create_key, prepare

        await prepare(self.settings)
        self.key = await create_key(self.settings, scopes=["reminders:write", "cases:write", "cases:read"],
                                    name="bench", tenant=TENANT)

    def start_api(self) -> str:
        proc = self.run.procs.start(f"{self.name}-api",
                                    [python(), "-m", "gateway.cli", "api", "--port", str(self.api_port)], self.env)
        wait_port(self.api_port, proc=proc)
        return f"http://127.0.0.1:{self.api_port}"

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            self.run.procs.start(f"{self.name}-worker", [python(), "-m", "gateway.cli", "worker"], self.env)

    def start(self, name: str, argv: list[str]) -> Any:
        return self.run.procs.start(f"{self.name}-{name}", argv, self.env)

    def meter(self) -> CpuMeter:
        meter = CpuMeter(self.run.procs, self.run.redis.client())
        meter.start()
        return meter

    def log_threads(self) -> None:
        if os.environ.get("BENCH_THREADS"):
            for name, per in self.run.procs.threads().items():
                busy = sorted(per.items(), key=lambda kv: -kv[1])[:4]
                log(f"  threads of {name}: " + ", ".join(f"{tid} {secs:.1f}s" for tid, secs in busy))

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"database": self.run.databases.kind, "redis": self.run.redis.kind,
                "profile": self.run.profile.name, **extra}


_GATEWAY_ENV = {f.metadata["env"] for f in Settings.__dataclass_fields__.values() if "env" in f.metadata}


# --- the HTTP client side ------------------------------------------------------------------------


async def put_cases(session: aiohttp.ClientSession, base: str, key: str, profile: bench_cases.Profile,
                    refs: list[str]) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    gate = asyncio.Semaphore(8)

    async def one(i: int, ref: str) -> None:
        async with gate, session.put(f"{base}/v1/cases/{ref}", data=orjson.dumps(bench_cases.case_body(profile, i)),
                                     headers=headers) as resp:
            if resp.status not in (200, 201):
                raise RuntimeError(f"PUT /v1/cases/{ref} answered {resp.status}: {(await resp.text())[:300]}")

    await asyncio.gather(*(one(i, ref) for i, ref in enumerate(refs)))


def batches(items: list[dict[str, Any]], size: int = 1000) -> list[bytes]:
    return [orjson.dumps({"items": items[i : i + size]}) for i in range(0, len(items), size)]


async def submit(session: aiohttp.ClientSession, base: str, key: str, bodies: list[bytes], clients: int) -> int:
    """POST every batch, `clients` at a time; return how many reminders were accepted."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    pending = list(reversed(bodies))
    accepted = 0

    async def client() -> None:
        nonlocal accepted
        while pending:
            body = pending.pop()
            async with session.post(f"{base}/v1/reminders/batch", data=body, headers=headers) as resp:
                raw = await resp.read()
                if resp.status != 202:
                    raise RuntimeError(f"batch answered {resp.status}: {raw[:300]!r}")
                out = orjson.loads(raw)
                if out["rejected"]:
                    first = next(r for r in out["results"] if r["status"] == "rejected")
                    raise RuntimeError(f"{out['rejected']} reminders rejected, e.g. {first}")
                accepted += out["accepted"]

    await asyncio.gather(*(client() for _ in range(clients)))
    return accepted


# --- the database side ---------------------------------------------------------------------------


async def states(engine: Any) -> dict[str, int]:
    from gateway.store.tables import messages as M

    async with engine.connect() as conn:
        return {r[0]: r[1] for r in await conn.execute(sa.select(M.c.state, sa.func.count()).group_by(M.c.state))}


async def wait_sent(gw: Gateway, engine: Any, n: int, started: float, stall_s: float = 30.0) -> float:
    """Poll until `n` messages are `sent`; return the time that was first seen (perf_counter)."""
    from gateway.store.tables import messages as M

    query = sa.select(sa.func.count()).select_from(M).where(M.c.state == "sent")
    last, last_change = -1, time.perf_counter()
    while True:
        async with engine.connect() as conn:
            sent = (await conn.execute(query)).scalar_one()
        now = time.perf_counter()
        if sent >= n:
            return now
        if sent != last:
            last, last_change = sent, now
        elif now - last_change > stall_s:
            raise RuntimeError(f"{gw.name}: stuck at {sent}/{n} sent for {stall_s:.0f}s; "
                               f"states {await states(engine)}; {now - started:.1f}s in")
        gw.run.procs.check_alive()
        await asyncio.sleep(0.15)


def reminders(refs: list[str], channel: str) -> list[dict[str, Any]]:
    return [{"case_ref": ref, "template": "first_notice", "channel": channel, "idempotency_key": f"{ref}-{channel}"}
            for ref in refs]


def _session(clients: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients + 8),
                                 timeout=aiohttp.ClientTimeout(total=300))


# --- the scenarios -------------------------------------------------------------------------------


async def intake(run: Run) -> dict[str, Any]:
    """Reminders accepted (validated, persisted, enqueued) per second through the batch endpoint."""
    n = run.size(50_000, minimum=1000)
    clients = int(os.environ.get("BENCH_CLIENTS", "4"))
    gw = Gateway(run, "intake", SMS_PROVIDERS="sandbox")
    await gw.prepare()
    base = gw.start_api()
    refs = [f"INTAKE-{i:05d}" for i in range(100)]
    items = [{"case_ref": refs[i % len(refs)], "template": "first_notice", "channel": "sms",
              "idempotency_key": f"intake-{i}"} for i in range(n)]
    bodies = batches(items)
    async with _session(clients) as session:
        await put_cases(session, base, gw.key, run.profile, refs)
        log(f"intake: {len(refs)} cases; posting {n} reminders in {len(bodies)} batches, {clients} clients")
        meter = gw.meter()
        started = time.perf_counter()
        accepted = await submit(session, base, gw.key, bodies, clients)
        seconds = time.perf_counter() - started
        log("intake:", format_cpu(meter.report()))
    jobs = run.redis.client().llen(f"rq:queue:{gw.settings.queue_prefix}-dispatch")
    run.procs.stop_all()
    return {"figure": "intake_reminders_per_s", "value": round(accepted / seconds, 1), "unit": "reminders/s",
            **gw.context(n=accepted, seconds=round(seconds, 3), clients=clients, batch=1000, api_processes=1,
                         dispatch_jobs_enqueued=jobs)}


async def end_to_end(run: Run, channel: str) -> dict[str, Any]:
    """Accepted → policy → rendered → handed to the provider → `sent` recorded, per second."""
    n = run.size(20_000 if channel == "sms" else 10_000)
    clients = int(os.environ.get("BENCH_CLIENTS", "4"))
    server_port = free_port()
    gw = Gateway(
        run, f"e2e-{channel}",
        SMS_PROVIDERS="twilio", TWILIO_BASE_URL=f"http://127.0.0.1:{server_port}",
        TWILIO_ACCOUNT_SID=SMS_SID, TWILIO_AUTH_TOKEN=SMS_TOKEN,
        EMAIL_PROVIDERS="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=str(server_port),
        SMTP_POOL_SIZE=os.environ.get("BENCH_SMTP_POOL", "16"),
    )
    await gw.prepare()
    refs = [f"E2E-{channel.upper()}-{i:06d}" for i in range(n)]
    await bench_cases.seed(gw.settings, TENANT, [(ref, bench_cases.case_body(run.profile, i))
                                                 for i, ref in enumerate(refs)])
    server = "bench.smsserver" if channel == "sms" else "bench.smtpsink"
    wait_port(server_port, proc=gw.start(server, [python(), "-m", server, "--port", str(server_port)]))
    base = gw.start_api()
    gw.start_workers(run.workers)
    await asyncio.sleep(float(os.environ.get("BENCH_IDLE_S", "3")))  # workers up, connected, idle
    run.procs.check_alive()
    bodies = batches(reminders(refs, channel))
    from gateway.store.engine import create_engine

    engine = create_engine(gw.settings)
    try:
        async with _session(clients) as session:
            log(f"e2e {channel}: {n} reminders to {n} debtors, {run.workers} workers")
            meter = gw.meter()
            started = time.perf_counter()
            watcher = asyncio.create_task(wait_sent(gw, engine, n, started))
            accepted = await submit(session, base, gw.key, bodies, clients)
            submitted = time.perf_counter() - started
            done = await watcher
            log(f"e2e {channel}:", format_cpu(meter.report()))
            gw.log_threads()
        seconds = done - started
        final = await states(engine)
    finally:
        await engine.dispose()
        run.procs.stop_all()
    if accepted != n:
        raise RuntimeError(f"only {accepted}/{n} accepted")
    return {"figure": f"e2e_{channel}_per_s", "value": round(n / seconds, 1), "unit": f"{channel}/s",
            **gw.context(n=n, seconds=round(seconds, 3), submit_seconds=round(submitted, 3), workers=run.workers,
                         send_concurrency=gw.settings.send_concurrency, dispatch_chunk=gw.settings.dispatch_chunk,
                         states=final)}


async def naive(run: Run) -> dict[str, Any]:
    """The same email work as one RQ job per message on forking workers, a connection per mail."""
    from bench.naive import enqueue_all

    n = run.size(300, minimum=50)
    sink_port = free_port()
    gw = Gateway(run, "naive", SMS_PROVIDERS="sandbox", EMAIL_PROVIDERS="smtp", SMTP_HOST="127.0.0.1",
                 SMTP_PORT=str(sink_port))
    await gw.prepare()
    refs = [f"NAIVE-{i:06d}" for i in range(n)]
    await bench_cases.seed(gw.settings, TENANT, [(ref, bench_cases.case_body(run.profile, i))
                                                 for i, ref in enumerate(refs)])
    wait_port(sink_port, proc=gw.start("smtpsink", [python(), "-m", "bench.smtpsink", "--port", str(sink_port)]))
    base = gw.start_api()
    async with _session(2) as session:
        # Accepted through the same API (no gateway worker runs; its jobs are left alone).
        await submit(session, base, gw.key, batches(reminders(refs, "email")), 2)
    from gateway.store.engine import create_engine
    from gateway.store.tables import messages as M

    engine = create_engine(gw.settings)
    try:
        async with engine.connect() as conn:
            ids = [r[0] for r in await conn.execute(sa.select(M.c.id).order_by(M.c.created_at, M.c.id))]
        queue = f"{gw.settings.queue_prefix}-naive"
        for _ in range(run.workers):
            gw.start("rq-worker", [python(), "-m", "bench.naive", "worker", queue])
        await asyncio.sleep(float(os.environ.get("BENCH_IDLE_S", "3")))
        run.procs.check_alive()
        log(f"naive: {n} emails, one forking RQ job each, {run.workers} workers")
        meter = gw.meter()
        started = time.perf_counter()
        await asyncio.to_thread(enqueue_all, run.redis.url, queue, ids)
        done = await wait_sent(gw, engine, n, started)
        seconds = done - started
        log("naive:", format_cpu(meter.report()))
    finally:
        await engine.dispose()
        run.procs.stop_all()
    return {"figure": "naive_email_per_s", "value": round(n / seconds, 2), "unit": "email/s",
            **gw.context(n=n, seconds=round(seconds, 3), workers=run.workers, worker_class="rq.Worker (fork)")}


def worker_logs(run: Run) -> str:
    return "\n".join(f"--- {p}\n{tail(p)}" for p in sorted(run.root.glob("**/*.log")))
