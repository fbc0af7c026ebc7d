"""The measured scenarios: intake, end-to-end SMS and email, and the naive baseline.

Each scenario gets a data directory, a database and a queue prefix of its own, starts the real
gateway processes configured only through the environment, measures, and stops them again.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import sqlalchemy as sa

from bench import cases as bench_cases
from bench.client import (
    batches,
    http_session,
    put_cases,
    reminders,
    states,
    submit,
    table_stats,
    wait_sent,
)
from bench.cpu import format_cpu, other_load
from bench.gateway import TENANT, Gateway, Run, log_traces
from bench.procs import free_port, log, python, wait_port

SMS_SID = "ACbench0000000000000000000000000000"
SMS_TOKEN = "bench-auth-token"


def api_process_count() -> int:
    """API processes, one per core by default, as a deployment behind a load balancer runs them."""
    return int(os.environ.get("BENCH_API_PROCS", str(os.cpu_count() or 2)))


async def intake(run: Run) -> dict[str, Any]:
    """Reminders accepted (validated, persisted, enqueued) per second through the batch endpoint."""
    n = run.size(50_000, minimum=1000)
    clients = int(os.environ.get("BENCH_CLIENTS", "4"))
    api_processes = api_process_count()
    gw = Gateway(run, "intake", SMS_PROVIDERS="sandbox")
    await gw.prepare()
    bases = gw.start_api(api_processes)
    refs = [f"INTAKE-{i:05d}" for i in range(100)]
    items = [
        {
            "case_ref": refs[i % len(refs)],
            "template": "first_notice",
            "channel": "sms",
            "idempotency_key": f"intake-{i}",
        }
        for i in range(n)
    ]
    bodies = batches(items)
    async with http_session(clients) as session:
        await put_cases(session, bases[0], gw.key, run.profile, refs)
        await run.procs.settled(float(os.environ.get("BENCH_IDLE_S", "3")))  # warm and idle
        log(
            f"intake: {len(refs)} cases; posting {n} reminders in {len(bodies)} batches, {clients} clients"
        )
        meter = gw.meter()
        started = time.perf_counter()
        accepted = await submit(session, bases, gw.key, bodies, clients)
        seconds = time.perf_counter() - started
        cpu = meter.report()
        log("intake:", format_cpu(cpu))
    client = run.redis.client()
    jobs = client.llen(f"rq:queue:{gw.settings.queue_prefix}-dispatch")
    client.close()
    run.procs.stop_all()
    log_traces(run)
    return {
        "figure": "intake_reminders_per_s",
        "value": round(accepted / seconds, 1),
        "unit": "reminders/s",
        **gw.context(
            other_load_cores=other_load(cpu),
            n=accepted,
            seconds=round(seconds, 3),
            clients=clients,
            batch=1000,
            api_processes=api_processes,
            dispatch_jobs_enqueued=jobs,
        ),
    }


# Provider kind → (channel, figure name, messages at scale 1, the local server's module).
KINDS: dict[str, tuple[str, str, int, str | None]] = {
    "twilio": ("sms", "e2e_sms_per_s", 20_000, "bench.smsserver"),
    "smpp": ("sms", "e2e_smpp_per_s", 20_000, "bench.smscserver"),
    "smtp": ("email", "e2e_email_per_s", 10_000, "bench.smtpsink"),
    "folder": ("letter", "e2e_letters_per_s", 400, None),
}


async def end_to_end(run: Run, kind: str) -> dict[str, Any]:
    """Accepted → policy → rendered → handed to the provider → `sent` recorded, per second."""
    channel, figure, size, server = KINDS[kind]
    n = run.size(size, minimum=50)
    clients = int(os.environ.get("BENCH_CLIENTS", "4"))
    server_port = free_port()
    gw = Gateway(
        run,
        f"e2e-{kind}",
        SMS_PROVIDERS=kind if channel == "sms" else "sandbox",
        TWILIO_BASE_URL=f"http://127.0.0.1:{server_port}",
        TWILIO_ACCOUNT_SID=SMS_SID,
        TWILIO_AUTH_TOKEN=SMS_TOKEN,
        SMPP_HOST="127.0.0.1",
        SMPP_PORT=str(server_port),
        SMPP_SYSTEM_ID="bench",
        SMPP_PASSWORD="bench",
        EMAIL_PROVIDERS="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(server_port),
        SMTP_POOL_SIZE=os.environ.get("BENCH_SMTP_POOL", "16"),
        LETTER_PROVIDERS="folder",
    )
    await gw.prepare()
    refs = [f"E2E-{channel.upper()}-{i:06d}" for i in range(n)]
    await bench_cases.seed(
        gw.settings,
        TENANT,
        [(ref, bench_cases.case_body(run.profile, i)) for i, ref in enumerate(refs)],
    )
    if server is not None:
        wait_port(
            server_port, proc=gw.start(server, [python(), "-m", server, "--port", str(server_port)])
        )
    bases = gw.start_api(api_process_count())
    gw.start_workers(run.workers)
    await run.procs.settled(float(os.environ.get("BENCH_IDLE_S", "3")))  # up, warm and idle
    run.procs.check_alive()
    bodies = batches(reminders(refs, channel))
    from gateway.store.engine import create_engine

    engine = create_engine(gw.settings)
    try:
        async with http_session(clients) as session:
            log(f"e2e {kind}: {n} {channel} reminders to {n} debtors, {run.workers} workers")
            meter = gw.meter()
            started = time.perf_counter()
            progress: list[tuple[float, int]] = []
            watcher = asyncio.create_task(wait_sent(gw, engine, n, started, progress=progress))
            accepted = await submit(session, bases, gw.key, bodies, clients)
            submitted = time.perf_counter() - started
            done = await watcher
            cpu = meter.report()
            log(f"e2e {kind}:", format_cpu(cpu))
            gw.log_threads()
        seconds = done - started
        final = await states(engine)
        # How far sending had got when the last batch was accepted, and the pace from there on.
        sent_then = max((sent for at, sent in progress if at <= submitted), default=0)
        after = (n - sent_then) / (seconds - submitted) if seconds > submitted else 0.0
        run.procs.stop_all()
        writes = await table_stats(engine, n)
    finally:
        await engine.dispose()
        run.procs.stop_all()
        log_traces(run)
    if accepted != n:
        raise RuntimeError(f"only {accepted}/{n} accepted")
    return {
        "figure": figure,
        "value": round(n / seconds, 1),
        "unit": f"{channel}/s",
        "provider": kind,
        **gw.context(
            other_load_cores=other_load(cpu),
            n=n,
            seconds=round(seconds, 3),
            submit_seconds=round(submitted, 3),
            sent_by_submit_end=sent_then,
            per_s_after_submit=round(after, 1),
            workers=run.workers,
            api_processes=len(bases),
            send_concurrency=gw.settings.send_concurrency,
            dispatch_chunk=gw.settings.dispatch_chunk,
            states=final,
            **writes,
        ),
    }


async def naive(run: Run) -> dict[str, Any]:
    """The same email work as one RQ job per message on forking workers, a connection per mail."""
    from bench.naive import enqueue_all

    n = run.size(300, minimum=50)
    sink_port = free_port()
    gw = Gateway(
        run,
        "naive",
        SMS_PROVIDERS="sandbox",
        EMAIL_PROVIDERS="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(sink_port),
    )
    await gw.prepare()
    refs = [f"NAIVE-{i:06d}" for i in range(n)]
    await bench_cases.seed(
        gw.settings,
        TENANT,
        [(ref, bench_cases.case_body(run.profile, i)) for i, ref in enumerate(refs)],
    )
    wait_port(
        sink_port,
        proc=gw.start("smtpsink", [python(), "-m", "bench.smtpsink", "--port", str(sink_port)]),
    )
    bases = gw.start_api()
    async with http_session(2) as session:
        # Accepted through the same API (no gateway worker runs; its jobs are left alone).
        await submit(session, bases, gw.key, batches(reminders(refs, "email")), 2)
    from gateway.store.engine import create_engine
    from gateway.store.tables import messages as M

    engine = create_engine(gw.settings)
    try:
        async with engine.connect() as conn:
            ids = [
                r[0] for r in await conn.execute(sa.select(M.c.id).order_by(M.c.created_at, M.c.id))
            ]
        queue = f"{gw.settings.queue_prefix}-naive"
        for _ in range(run.workers):
            gw.start("rq-worker", [python(), "-m", "bench.naive", "worker", queue])
        await run.procs.settled(float(os.environ.get("BENCH_IDLE_S", "3")))
        run.procs.check_alive()
        log(f"naive: {n} emails, one forking RQ job each, {run.workers} workers")
        meter = gw.meter()
        started = time.perf_counter()
        await asyncio.to_thread(enqueue_all, run.redis.url, queue, ids)
        done = await wait_sent(gw, engine, n, started)
        seconds = done - started
        cpu = meter.report()
        log("naive:", format_cpu(cpu))
    finally:
        await engine.dispose()
        run.procs.stop_all()
    return {
        "figure": "naive_email_per_s",
        "value": round(n / seconds, 2),
        "unit": "email/s",
        **gw.context(
            other_load_cores=other_load(cpu),
            n=n,
            seconds=round(seconds, 3),
            workers=run.workers,
            worker_class="rq.Worker (fork)",
        ),
    }
