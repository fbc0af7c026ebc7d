"""Webhook deliveries per second: the real scheduler process's delivery loop draining an outbox
into a local receiver, each request signed per Standard Webhooks.

The outbox rows are written the way the gateway writes them (`gateway.services.webhook_events`
through the bulk insert), spread over many cases: a case's events go one after the other, so
the loop's concurrency is across cases. The receiver answers 200 at once and checks one
signature in a hundred with the reference library (checking all would bench the receiver).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook

from bench.cpu import format_cpu
from bench.gateway import TENANT, Gateway, Run
from bench.procs import free_port, log, python

CASES = 500


class Sink:
    def __init__(self, secret: str):
        self.hook = Webhook(secret)
        self.count = 0
        self.bad = 0
        self.done = asyncio.Event()
        self.expected = 0

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.count += 1
        if self.count % 100 == 1:
            try:
                self.hook.verify(raw, dict(request.headers))
            except Exception:  # noqa: BLE001 — counted, the figure is refused below
                self.bad += 1
        if self.count >= self.expected:
            self.done.set()
        return web.Response(status=200)


async def _outbox(gw: Gateway, url: str, n: int) -> str:
    """Register a webhook for the bench tenant and write `n` events for it; its secret."""
    from gateway.bootstrap import open_runtime
    from gateway.services.webhook_events import MESSAGE_STATE_CHANGED, Event, emit
    from gateway.services.webhooks import sealer
    from gateway.store import webhooks as webhook_store

    rt = await open_runtime(gw.settings)
    secret = webhook_store.new_secret()
    try:
        async with rt.engine.begin() as conn:
            await webhook_store.create(
                conn,
                tenant=TENANT,
                api_key_id=0,
                url=url,
                event_types=[MESSAGE_STATE_CHANGED],
                sealed_secret=sealer(rt.settings.secret).seal(secret),
                now=rt.clock(),
            )
        for start in range(0, n, 5000):
            events = [
                Event(
                    TENANT,
                    1 + i % CASES,
                    MESSAGE_STATE_CHANGED,
                    {"message_id": f"{i:028x}", "state": "delivered", "channel": "sms"},
                )
                for i in range(start, min(n, start + 5000))
            ]
            async with rt.engine.begin() as conn:
                await emit(conn, events, rt.clock())
        return secret
    finally:
        await rt.close()


async def deliveries(run: Run) -> dict[str, Any]:
    n = run.size(20_000, minimum=500)
    gw = Gateway(run, "webhooks", WEBHOOK_INTERVAL_S="0.05")
    await gw.prepare()
    port = free_port()
    secret = await _outbox(gw, f"http://127.0.0.1:{port}/hooks", n)
    sink = Sink(secret)
    sink.expected = n
    app = web.Application()
    app.router.add_post("/hooks", sink.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        meter = gw.meter()
        started = time.perf_counter()
        gw.start("scheduler", [python(), "-m", "gateway.cli", "scheduler"])
        # The clock starts at the first delivery: the scheduler's start-up is not delivery time.
        while sink.count == 0:
            await asyncio.sleep(0.005)
            if time.perf_counter() - started > 60:
                raise RuntimeError("no webhook delivered within 60 s")
        first = time.perf_counter()
        await asyncio.wait_for(sink.done.wait(), timeout=600)
        seconds = time.perf_counter() - first
        cpu = meter.report()
        log("webhooks:", format_cpu(cpu))
    finally:
        run.procs.stop_all()
        await runner.cleanup()
    if sink.bad:
        raise RuntimeError(f"{sink.bad} sampled webhook signatures did not verify")
    return {
        "figure": "webhook_deliveries_per_s",
        "value": round((n - 1) / seconds, 1),
        "unit": "deliveries/s",
        **gw.context(deliveries=n, cases=CASES, seconds=round(seconds, 2)),
    }
