"""Frequency caps hold when four real worker processes race for the same debtor."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest

from gateway.settings import Settings
from tests.support import (
    ApiClient,
    case_body,
    reminder,
    start_worker,
    states,
    wait_for,
    workers_waiting,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # One message per dispatch job, so the twenty reminders spread over every worker at once.
    return settings.with_(dispatch_chunk=1)


async def test_four_workers_racing_send_one_sms_a_day_to_one_debtor(
    api: ApiClient, runtime: Any
) -> None:
    # Two cases of the same debtor (the same mobile number), each with ten reminders: caps are per
    # debtor across cases, and one job per message spreads them over every worker.
    for ref in ("R-1", "R-2"):
        await api.put(
            f"/v1/cases/{ref}", case_body(preset="TEST-CAPS", phone="+14155550123", email=None)
        )
    items = [reminder(ref, "sms", key=f"{ref}-{i}") for ref in ("R-1", "R-2") for i in range(10)]
    workers = [start_worker(runtime.settings) for _ in range(4)]
    try:
        # Every worker waits on the queue before the jobs arrive: Redis then hands them out in
        # turn, instead of the first worker up taking all twenty while the others still start.
        await workers_waiting(runtime, len(workers))
        ids = [
            r["id"]
            for r in (await api.post("/v1/reminders/batch", {"items": items})).body["results"]
        ]

        async def settled() -> dict[str, str] | None:
            got = await states(runtime, ids)
            return (
                got if all(s in ("sent", "delivered", "deferred") for s in got.values()) else None
            )

        final = await wait_for(settled, timeout=60, interval=0.2)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=10)
    handed_over = [i for i, s in final.items() if s in ("sent", "delivered")]
    assert len(handed_over) == 1, final
    assert list(final.values()).count("deferred") == 19
    reasons = {
        (await api.get(f"/v1/messages/{i}")).body["state_reason"].split(":")[0]
        for i in ids
        if i not in handed_over
    }
    assert reasons <= {"cap.sms.rolling_24h", "cap.min_gap"}
    logs = [w.log_path.read_text() for w in workers]
    assert sum('"event": "dispatched"' in log for log in logs) >= 2, (
        "the work was not spread over workers"
    )


async def test_deciding_for_a_debtor_waits_for_the_other_transaction(
    api: ApiClient, runtime: Any
) -> None:
    """The mechanism itself: while one transaction decides for a debtor, a second one deciding for
    the same debtor cannot read the history until the first has committed its touch."""

    from gateway.services.holding import serialize
    from gateway.store.engine import create_engine

    other = create_engine(runtime.settings)
    first_in = asyncio.Event()
    release = asyncio.Event()
    order: list[str] = []

    async def decide(engine: Any, name: str, hold: bool) -> None:
        async with engine.begin() as conn:
            await serialize(conn, f"no-such-message-{name}", {"+14155550123"})
            order.append(f"{name} in")
            if hold:
                first_in.set()
                await release.wait()
            order.append(f"{name} out")

    try:
        first = asyncio.create_task(decide(runtime.engine, "first", hold=True))
        await first_in.wait()
        second = asyncio.create_task(decide(other, "second", hold=False))
        await asyncio.sleep(0.5)
        assert order == ["first in"], "the second decision did not wait"
        release.set()
        await asyncio.gather(first, second)
        assert order == ["first in", "first out", "second in", "second out"]
    finally:
        await other.dispose()


async def test_neighbours_at_one_postal_address_are_not_one_debtor(
    api: ApiClient, runtime: Any
) -> None:
    from tests.support import drain

    await api.put("/v1/cases/N-1", case_body(preset="TEST-CAPS", phone="+14155550111", email=None))
    await api.put("/v1/cases/N-2", case_body(preset="TEST-CAPS", phone="+14155550222", email=None))
    ids = [
        (await api.post("/v1/reminders", reminder(ref, "sms"))).body["id"] for ref in ("N-1", "N-2")
    ]
    await drain(runtime)
    assert set((await states(runtime, ids)).values()) == {"sent"}
