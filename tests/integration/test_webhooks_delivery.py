"""Outbound webhooks, the deliveries: every event signed (the receiver verifies each one with the
`standardwebhooks` library), in order per case, retried with backoff on the injectable clock,
failed after a day and visible as such, redelivered on request, and never lost by a process
that dies right after the commit that wrote it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.services.webhook_delivery import Deliverer
from tests.support import (
    ApiClient,
    case_body,
    drain,
    release_receipts,
    reminder,
    settings_env,
    sms_reply,
    wait_for,
)
from tests.webhook_receiver import Receiver

EVERY = ["message.state_changed", "reply.received", "case.state_changed", "cadence.step"]
PAID = {"type": "payment_received", "amount": "420.50"}
START = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()
    await got.start()
    yield got
    await got.stop()
    assert got.refused == [], "a delivery's signature did not verify"


async def register(api: ApiClient, receiver: Receiver, events: list[str] = EVERY) -> str:
    resp = await api.post("/v1/webhooks", {"url": receiver.url, "events": events})
    assert resp.status == 201, resp.body
    receiver.secret = resp.body["secret"]
    return str(resp.body["id"])


async def rounds(runtime: Any) -> int:
    """Delivery rounds until one finds nothing due; the rows attempted."""
    deliver = Deliverer(runtime)
    total = 0
    try:
        while attempted := await deliver():
            total += attempted
    finally:
        await deliver.close()
    return total


async def deliveries(api: ApiClient, hook: str) -> list[dict[str, Any]]:
    resp = await api.get(f"/v1/webhooks/{hook}/deliveries")
    assert resp.status == 200, resp.body
    return list(resp.body["deliveries"])


async def test_a_messages_state_changes_arrive_signed_and_in_order(
    api: ApiClient, runtime: Any, receiver: Receiver
) -> None:
    hook = await register(api, receiver)
    await api.put("/v1/cases/W-1", case_body())
    first = (await api.post("/v1/reminders", reminder("W-1", "sms", key="a"))).body["id"]
    second = (await api.post("/v1/reminders", reminder("W-1", "sms", key="b"))).body["id"]
    await drain(runtime)
    await release_receipts(runtime)
    assert await rounds(runtime) >= 3
    told = receiver.of_type("message.state_changed")
    by_message = {
        m: [b["data"]["state"] for b in told if b["data"]["message_id"] == m]
        for m in (first, second)
    }
    assert by_message[first] == ["sent", "delivered"]
    assert by_message[second] == ["sent", "delivered"]
    assert {b["data"]["case_ref"] for b in told} == {"W-1"}
    # In the order they were written, each with its own id.
    listed = await deliveries(api, hook)
    assert [d["event_id"] for d in listed] == receiver.ids
    assert len(set(receiver.ids)) == len(receiver.ids)
    assert {d["state"] for d in listed} == {"delivered"}
    assert all(d["attempts"] == 1 and d["last_status"] == 200 for d in listed)


async def test_a_reply_and_the_case_state_it_changes_arrive(
    api: ApiClient, runtime: Any, receiver: Receiver
) -> None:
    await register(api, receiver, ["reply.received", "case.state_changed"])
    await api.put("/v1/cases/W-2", case_body())
    stored = await sms_reply(api, "This is not my debt")
    await api.post("/v1/cases/W-2/events", {"type": "release"})
    await rounds(runtime)
    types = [b["type"] for b in receiver.received]
    assert types == ["reply.received", "case.state_changed", "case.state_changed"]
    reply, held, released = receiver.received
    assert reply["data"]["reply_id"] == stored["reply_id"]
    assert reply["data"]["category"] == stored["category"] and "body" not in reply["data"]
    assert (held["data"]["state"], held["data"]["state_reason"]) == ("hold", "dispute")
    assert (held["data"]["previous_state"], released["data"]["state"]) == ("active", "active")
    assert released["data"]["cause"] == "event_release"
    assert {b["data"]["case_ref"] for b in receiver.received} == {"W-2"}
    # Not subscribed to message states: none were written.
    assert receiver.of_type("message.state_changed") == []


async def test_a_receiver_down_for_a_while_then_gets_everything_in_order(
    api: ApiClient, runtime: Any, receiver: Receiver, clock: Any
) -> None:
    clock.set(START)
    hook = await register(api, receiver, ["case.state_changed"])
    await api.put("/v1/cases/W-3", case_body())
    await api.put("/v1/cases/W-4", case_body())
    for event in ({"type": "dispute"}, {"type": "release"}, PAID):
        assert (await api.post("/v1/cases/W-3/events", event)).status == 200
    receiver.answer = 503
    assert await rounds(runtime) == 1  # only the case's first event: the rest waits behind it
    [first, *rest] = await deliveries(api, hook)
    assert (first["state"], first["attempts"], first["last_status"]) == ("pending", 1, 503)
    retry_at = datetime.fromisoformat(first["next_attempt_at"])
    # Exponential backoff with jitter: the first retry within (base/2, base] of the failure.
    assert START + timedelta(seconds=5) <= retry_at <= START + timedelta(seconds=10)
    assert [d["attempts"] for d in rest] == [0, 0]

    await receiver.stop()  # now it refuses connections
    await api.post("/v1/cases/W-4/events", {"type": "dispute"})  # another case is not held up
    clock.advance(minutes=1)
    assert await rounds(runtime) == 2
    first = (await deliveries(api, hook))[0]
    assert first["attempts"] == 2 and first["last_status"] is None and first["last_error"]
    assert receiver.received == []

    await receiver.start()
    receiver.answer = 200
    assert await rounds(runtime) == 0  # nothing is due before its time
    clock.advance(hours=2)
    await rounds(runtime)
    of_w3 = [b["data"]["state"] for b in receiver.received if b["data"]["case_ref"] == "W-3"]
    assert of_w3 == ["hold", "active", "closed"]
    assert {d["state"] for d in await deliveries(api, hook)} == {"delivered"}


async def test_after_a_day_of_failures_the_delivery_is_failed_and_can_be_redelivered(
    api: ApiClient, runtime: Any, receiver: Receiver, clock: Any
) -> None:
    clock.set(START)
    hook = await register(api, receiver, ["case.state_changed"])
    await api.put("/v1/cases/W-5", case_body())
    await api.post("/v1/cases/W-5/events", {"type": "dispute"})
    receiver.answer = 503
    for _ in range(80):
        await rounds(runtime)
        [delivery] = await deliveries(api, hook)
        if delivery["state"] != "pending":
            break
        assert datetime.fromisoformat(delivery["next_attempt_at"]) <= START + timedelta(hours=24)
        clock.set(datetime.fromisoformat(delivery["next_attempt_at"]))
    assert delivery["state"] == "failed" and delivery["next_attempt_at"] is None
    assert delivery["last_status"] == 503 and 20 < delivery["attempts"] < 80
    assert clock() >= START + timedelta(hours=24)
    # The case's next event is not held up behind a failed one.
    await api.post("/v1/cases/W-5/events", {"type": "release"})
    receiver.answer = 200
    await rounds(runtime)
    assert [b["data"]["state"] for b in receiver.received] == ["active"]

    resp = await api.post(f"/v1/webhooks/{hook}/deliveries/{delivery['id']}/redeliver")
    assert resp.status == 202 and resp.body["state"] == "pending"
    await rounds(runtime)
    assert [b["data"]["state"] for b in receiver.received] == ["active", "hold"]
    assert receiver.ids[-1] == delivery["event_id"]  # the same event, the same webhook-id
    again = (await deliveries(api, hook))[0]
    assert again["state"] == "delivered" and again["last_status"] == 200


async def test_a_deleted_webhook_gets_nothing_more(
    api: ApiClient, runtime: Any, receiver: Receiver
) -> None:
    hook = await register(api, receiver, ["case.state_changed"])
    await api.put("/v1/cases/W-6", case_body())
    await api.post("/v1/cases/W-6/events", {"type": "dispute"})
    await api.call("DELETE", f"/v1/webhooks/{hook}")
    await api.post("/v1/cases/W-6/events", {"type": "release"})
    assert await rounds(runtime) == 0
    assert receiver.attempts == 0


def start_scheduler(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A real `reminder-gateway scheduler` process, its log in `log_path`."""
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "scheduler"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


KILLED_AFTER_COMMIT = textwrap.dedent(
    """
    import asyncio, os, signal
    from gateway.bootstrap import open_runtime
    from gateway.schemas import CaseEventIn
    from gateway.services import case_events
    from gateway.settings import Settings
    from gateway.store.keys import ApiKey

    async def main():
        rt = await open_runtime(Settings.from_env())
        key = ApiKey(0, "default", "test", frozenset())
        await case_events.apply(rt, key, "W-7", CaseEventIn(type="dispute"))
        os.kill(os.getpid(), signal.SIGKILL)  # right after the commit, before anything else

    asyncio.run(main())
    """
)


async def test_a_process_killed_after_commit_loses_no_event_and_the_scheduler_sends_it(
    api: ApiClient, settings: Any, receiver: Receiver, tmp_path: Path
) -> None:
    hook = await register(api, receiver, ["case.state_changed"])
    await api.put("/v1/cases/W-7", case_body())
    env = settings_env(settings)
    killed = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", KILLED_AFTER_COMMIT], env=env, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL
    [waiting] = await deliveries(api, hook)  # the outbox row is there, committed with the change
    assert (waiting["state"], waiting["attempts"]) == ("pending", 0)
    log_path = tmp_path / "scheduler.log"
    scheduler = start_scheduler({**env, "WEBHOOK_INTERVAL_S": "0.2"}, log_path)
    try:

        async def arrived() -> bool:
            return bool(receiver.received)

        await wait_for(arrived, timeout=30)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        await asyncio.to_thread(scheduler.wait, 30)
    [event] = receiver.received
    assert event["type"] == "case.state_changed" and event["data"]["state"] == "hold"
    assert event["data"]["case_ref"] == "W-7"
    log = log_path.read_text()
    assert "webhooks_delivered" in log
    assert receiver.secret is not None
    assert receiver.secret not in log and receiver.secret.removeprefix("whsec_") not in log


async def test_a_cadence_step_is_told_by_the_function_the_cadence_engine_calls(
    api: ApiClient, runtime: Any, receiver: Receiver
) -> None:
    import sqlalchemy as sa

    from gateway.services.webhook_events import cadence_step
    from gateway.store.tables import cases

    await register(api, receiver, ["cadence.step"])
    await api.put("/v1/cases/W-8", case_body())
    async with runtime.engine.begin() as conn:
        case_id = (
            await conn.execute(sa.select(cases.c.id).where(cases.c.case_ref == "W-8"))
        ).scalar_one()
        written = await cadence_step(
            conn, tenant="default", case_id=case_id, cadence="gentle", step=2, now=runtime.clock()
        )
    assert written == 1
    # Rolled back with its transaction, the step is not told.
    async with runtime.engine.connect() as conn, conn.begin() as tx:
        await cadence_step(
            conn,
            tenant="default",
            case_id=case_id,
            cadence="gentle",
            step=3,
            now=runtime.clock(),
        )
        await tx.rollback()
    await rounds(runtime)
    [told] = receiver.received
    assert told["type"] == "cadence.step"
    assert told["data"] == {"cadence": "gentle", "step": 2, "case_ref": "W-8"}
