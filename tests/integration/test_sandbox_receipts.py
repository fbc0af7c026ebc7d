"""The SMS sandbox's receipts against the real receipt endpoint: none lost under a burst, even when
the gateway refuses or stalls callbacks, and held until a test releases them."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from structlog.testing import capture_logs

from channels.base import Outgoing
from channels.sms.sandbox import SandboxSms
from channels.sms.sandbox_receipts import Retry
from gateway.store.tables import delivery_events as DE
from tests.support import ApiClient, case_body, drain, message_state, release_receipts, reminder

BURST = 2000
TIMEOUT_S = 0.5  # the sandbox's patience with one callback, shorter than a stall


class Unreliable:
    """Stands in front of the gateway's receipt endpoint: refuses the first try of every third
    receipt with a 503, stalls the first try of every fiftieth past the sandbox's timeout, and
    forwards everything else, answering with the gateway's own answer."""

    def __init__(self, target: str):
        self.target = target
        self.tries: Counter[str] = Counter()
        self.refused: set[str] = set()
        self.stalled: set[str] = set()
        self.session: aiohttp.ClientSession | None = None

    async def receipts(self, request: web.Request) -> web.Response:
        body = await request.read()
        event_id = json.loads(body)["event_id"]
        self.tries[event_id] += 1
        n = len(self.tries)
        if self.tries[event_id] == 1 and n % 50 == 0:
            self.stalled.add(event_id)
            await asyncio.sleep(TIMEOUT_S * 3)
            return web.Response(status=504)
        if self.tries[event_id] == 1 and n % 3 == 0:
            self.refused.add(event_id)
            return web.json_response({"error": {"code": "unavailable"}}, status=503)
        assert self.session is not None
        headers = {h: request.headers[h] for h in ("Content-Type", "X-Sandbox-Signature")}
        async with self.session.post(self.target, data=body, headers=headers) as resp:
            return web.Response(status=resp.status, body=await resp.read())


@pytest.fixture
async def unreliable(api: ApiClient, aiohttp_server: Any) -> AsyncIterator[tuple[str, Unreliable]]:
    front = Unreliable(f"{api.base}/v1/providers/sandbox/receipts")
    app = web.Application()
    app.router.add_post("/receipts", front.receipts)
    server = await aiohttp_server(app)
    front.session = aiohttp.ClientSession()
    yield f"http://127.0.0.1:{server.port}/receipts", front
    await front.session.close()


async def events_by_type(runtime: Any) -> dict[str, int]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(DE.c.event_type, sa.func.count())
            .where(DE.c.provider == "sandbox")
            .group_by(DE.c.event_type)
        )
        return {r[0]: r[1] for r in rows}


@pytest.mark.slow
async def test_a_burst_of_sends_loses_no_receipt_when_callbacks_are_refused_or_stall(
    api: ApiClient, runtime: Any, unreliable: tuple[str, Unreliable]
) -> None:
    url, front = unreliable
    sandbox = SandboxSms(
        redis=runtime.aredis,
        outbox_key=runtime.keys.sandbox_sms,
        secret=runtime.settings.sandbox_secret,
        receipts_url=url,
        receipt_delay_s=0.0,
        receipt_timeout_s=TIMEOUT_S,
        receipt_retry=Retry(attempts=8, base_s=0.05, cap_s=1.0),
    )
    await sandbox.start()
    gate = asyncio.Semaphore(runtime.settings.send_concurrency)  # as the dispatcher sends

    async def send(i: int) -> str:
        async with gate:
            to = f"+1415555{i:04d}" if i % 10 else f"+1415{i:04d}0000"  # some undelivered
            return (await sandbox.send(Outgoing(f"m{i}", "sms", to, "hi"))).provider_ref

    try:
        with capture_logs() as logs:
            refs = await asyncio.gather(*(send(i) for i in range(BURST)))
            await sandbox.receipts.settle()
    finally:
        await sandbox.close()

    assert len(set(refs)) == BURST
    assert front.refused and front.stalled, "the endpoint refused nothing; the test proved nothing"
    # Every refused or stalled receipt was tried again, and none was given up.
    assert all(front.tries[e] >= 2 for e in front.refused | front.stalled)
    assert [e for e in logs if e["event"].startswith("sandbox_receipt")] == []
    undelivered = BURST // 10
    assert await events_by_type(runtime) == {
        "sent": BURST,
        "delivered": BURST - undelivered,
        "undelivered": undelivered,
    }


async def test_a_receipt_the_gateway_rejects_is_not_retried(
    api: ApiClient, runtime: Any, unreliable: tuple[str, Unreliable]
) -> None:
    url, front = unreliable
    sandbox = SandboxSms(
        redis=runtime.aredis,
        outbox_key=runtime.keys.sandbox_sms,
        secret="not-the-gateway-s-secret",
        receipts_url=url,
        receipt_delay_s=0.0,
    )
    await sandbox.start()
    try:
        with capture_logs() as logs:
            await sandbox.send(Outgoing("m1", "sms", "+14155550123", "hi"))
            await sandbox.receipts.settle()
    finally:
        await sandbox.close()
    # A wrong signature is a verdict, not a hiccup: one try each, and a log line that says so.
    assert set(front.tries.values()) == {1}
    mine = [(e["event"], e["status"]) for e in logs if e["event"].startswith("sandbox_")]
    assert mine == [("sandbox_receipt_refused", 401)] * 2
    assert await events_by_type(runtime) == {}


async def test_receipts_wait_while_held_and_land_when_released(
    api: ApiClient, runtime: Any
) -> None:
    sandbox = runtime.providers["sandbox"]
    sandbox.receipts.delay_s = 0.0  # due at once: only the hold keeps them back
    assert sandbox.receipts.held, "tests start with the sandbox's receipts held"
    await api.put("/v1/cases/H-1", case_body())
    accepted = await api.post("/v1/reminders", reminder("H-1", "sms"))
    await drain(runtime)
    assert sandbox.receipts.pending == 1
    assert await message_state(runtime, accepted.body["id"]) == "sent"
    with pytest.raises(RuntimeError, match="held"):
        await sandbox.receipts.settle()
    await release_receipts(runtime)
    assert sandbox.receipts.pending == 0
    assert await message_state(runtime, accepted.body["id"]) == "delivered"


async def test_receipts_on_their_way_still_land_when_the_sandbox_closes(
    api: ApiClient, runtime: Any
) -> None:
    sandbox = SandboxSms(
        redis=runtime.aredis,
        outbox_key=runtime.keys.sandbox_sms,
        secret=runtime.settings.sandbox_secret,
        receipts_url=f"{api.base}/v1/providers/sandbox/receipts",
        receipt_delay_s=0.0,
    )
    await sandbox.start()
    for i in range(20):
        await sandbox.send(Outgoing(f"m{i}", "sms", f"+1415555{i + 100:04d}", "hi"))
    await sandbox.close()  # a worker stopping (SIGTERM) right after a batch
    assert await events_by_type(runtime) == {"sent": 20, "delivered": 20}
