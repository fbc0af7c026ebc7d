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

BURST = 1000  # sends; two receipts each
# Long enough that no callback the gateway answers runs into it, however loaded the machine: in the
# burst, only counted faults (refusals, dropped connections) fail a try, never the clock.
PATIENT_S = 30.0
IMPATIENT_S = 0.3  # the sandbox's patience in the one test whose endpoint stalls


class Unreliable:
    """Stands in front of the gateway's receipt endpoint and fails chosen first tries: with
    `refuse_every=n` every n-th receipt is refused with a 503, with `drop_every=n` every n-th has its
    connection closed unanswered, and with `stall_every=n` every n-th gets no answer until the
    sandbox has given up on it (the stall ends when the test ends). Everything else is forwarded,
    answered with the gateway's own answer."""

    def __init__(
        self, target: str, *, refuse_every: int = 0, drop_every: int = 0, stall_every: int = 0
    ):
        self.target = target
        self.refuse_every, self.drop_every, self.stall_every = refuse_every, drop_every, stall_every
        self.tries: Counter[str] = Counter()
        self.refused: set[str] = set()
        self.dropped: set[str] = set()
        self.stalled: set[str] = set()
        self.answers: Counter[int] = Counter()  # the gateway's own answers, by status
        self.session: aiohttp.ClientSession | None = None
        self.unstall = asyncio.Event()

    def _every(self, n: int, count: int) -> bool:
        return n > 0 and count % n == 0

    async def receipts(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        event_id = json.loads(body)["event_id"]
        self.tries[event_id] += 1
        first, n = self.tries[event_id] == 1, len(self.tries)
        if first and self._every(self.stall_every, n):
            self.stalled.add(event_id)
            await self.unstall.wait()
            return web.Response(status=504)
        if first and self._every(self.drop_every, n):
            self.dropped.add(event_id)
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)  # never reaches the sandbox: the connection is gone
        if first and self._every(self.refuse_every, n):
            self.refused.add(event_id)
            return web.json_response({"error": {"code": "unavailable"}}, status=503)
        assert self.session is not None
        headers = {h: request.headers[h] for h in ("Content-Type", "X-Sandbox-Signature")}
        async with self.session.post(self.target, data=body, headers=headers) as resp:
            self.answers[resp.status] += 1
            return web.Response(status=resp.status, body=await resp.read())


@pytest.fixture
async def front(api: ApiClient, aiohttp_server: Any) -> AsyncIterator[Any]:
    """A factory: `await front(**faults)` puts an `Unreliable` before the receipt endpoint and
    answers its URL and itself."""
    fronts: list[Unreliable] = []

    async def make(**faults: int) -> tuple[str, Unreliable]:
        unreliable = Unreliable(f"{api.base}/v1/providers/sandbox/receipts", **faults)
        app = web.Application()
        app.router.add_post("/receipts", unreliable.receipts)
        server = await aiohttp_server(app)
        unreliable.session = aiohttp.ClientSession()
        fronts.append(unreliable)
        return f"http://127.0.0.1:{server.port}/receipts", unreliable

    yield make
    for unreliable in fronts:
        unreliable.unstall.set()
        assert unreliable.session is not None
        await unreliable.session.close()


def sandbox_for(runtime: Any, url: str, *, timeout_s: float, **kwargs: Any) -> SandboxSms:
    return SandboxSms(
        redis=runtime.aredis,
        outbox_key=runtime.keys.sandbox_sms,
        secret=kwargs.pop("secret", runtime.settings.sandbox_secret),
        receipts_url=url,
        receipt_delay_s=0.0,
        receipt_timeout_s=timeout_s,
        **kwargs,
    )


async def events_by_type(runtime: Any) -> dict[str, int]:
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(DE.c.event_type, sa.func.count())
            .where(DE.c.provider == "sandbox")
            .group_by(DE.c.event_type)
        )
        return {r[0]: r[1] for r in rows}


@pytest.mark.slow
async def test_a_burst_of_sends_loses_no_receipt_when_callbacks_are_refused_or_dropped(
    api: ApiClient, runtime: Any, front: Any
) -> None:
    url, unreliable = await front(refuse_every=3, drop_every=50)
    sandbox = sandbox_for(
        runtime, url, timeout_s=PATIENT_S, receipt_retry=Retry(attempts=8, base_s=0.05, cap_s=1.0)
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
    assert unreliable.refused and unreliable.dropped, "nothing failed; the test proved nothing"
    # Every refused or dropped receipt was tried again, and none was given up. (A try may also
    # fail for want of time on a loaded machine and be tried once more: that is the retry working,
    # so the count is at least two, not exactly two; what the gateway answered says why.)
    retried = unreliable.refused | unreliable.dropped
    assert all(unreliable.tries[e] >= 2 for e in retried), unreliable.answers
    assert [e for e in logs if e["event"].startswith("sandbox_receipt")] == [], unreliable.answers
    undelivered = BURST // 10
    assert await events_by_type(runtime) == {
        "sent": BURST,
        "delivered": BURST - undelivered,
        "undelivered": undelivered,
    }


async def test_a_stalled_callback_is_given_up_after_the_timeout_and_tried_again(
    api: ApiClient, runtime: Any, front: Any
) -> None:
    # The stall lasts until the test ends, so only the sandbox's own timeout can end the first
    # try: the retry is certain, not a race against a sleep.
    url, unreliable = await front(stall_every=2)
    sandbox = sandbox_for(
        runtime,
        url,
        timeout_s=IMPATIENT_S,
        receipt_retry=Retry(attempts=8, base_s=0.01, cap_s=0.05),
    )
    await sandbox.start()
    try:
        with capture_logs() as logs:
            for i in range(4):
                await sandbox.send(Outgoing(f"m{i}", "sms", f"+1415555{i + 300:04d}", "hi"))
            await sandbox.receipts.settle()
    finally:
        await sandbox.close()
    assert len(unreliable.stalled) == 4  # every other first try of the eight statuses
    assert all(unreliable.tries[e] >= 2 for e in unreliable.stalled)
    assert [e for e in logs if e["event"].startswith("sandbox_receipt")] == []
    assert await events_by_type(runtime) == {"sent": 4, "delivered": 4}


async def test_a_receipt_the_gateway_rejects_is_not_retried(
    api: ApiClient, runtime: Any, front: Any
) -> None:
    url, unreliable = await front()
    sandbox = sandbox_for(runtime, url, timeout_s=PATIENT_S, secret="not-the-gateway-s-secret")
    await sandbox.start()
    try:
        with capture_logs() as logs:
            await sandbox.send(Outgoing("m1", "sms", "+14155550123", "hi"))
            await sandbox.receipts.settle()
    finally:
        await sandbox.close()
    # A wrong signature is a verdict, not a hiccup: one try each, and a log line that says so.
    assert set(unreliable.tries.values()) == {1}
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
    sandbox = sandbox_for(runtime, f"{api.base}/v1/providers/sandbox/receipts", timeout_s=PATIENT_S)
    # The grace a closing sandbox gives its receipts, long enough for a loaded machine: close()
    # returns as soon as the last one has landed, so only a lost receipt would wait it out.
    sandbox.receipts.close_grace_s = PATIENT_S
    await sandbox.start()
    for i in range(20):
        await sandbox.send(Outgoing(f"m{i}", "sms", f"+1415555{i + 100:04d}", "hi"))
    await sandbox.close()  # a worker stopping (SIGTERM) right after a batch
    assert await events_by_type(runtime) == {"sent": 20, "delivered": 20}
