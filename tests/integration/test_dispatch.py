"""Dispatch on a real database, Redis and SMTP server: claims, sends, receipts, retries, expiry."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from gateway.services.dispatch import dispatch
from gateway.services.due_work import pump_once, sweep_once
from gateway.store.tables import messages
from tests.support import (
    ApiClient,
    case_body,
    drain,
    message_state,
    release_receipts,
    reminder,
    wait_for,
)


async def test_sms_is_sent_and_delivery_receipt_lands_on_message_and_timeline(
    api: ApiClient, runtime: Any
) -> None:
    await api.put("/v1/cases/C-1", case_body())
    accepted = await api.post("/v1/reminders", reminder("C-1", "sms"))
    assert await drain(runtime) == 1
    await release_receipts(runtime)
    message = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert message["state"] == "delivered"
    assert message["provider"] == "sandbox" and message["attempts"] == 1
    assert "****1234" in message["rendered"]["body"] and "STOP" in message["rendered"]["body"]
    assert [e["type"] for e in message["events"]] == ["sent", "delivered"]
    kinds = [e["kind"] for e in (await api.get("/v1/cases/C-1/timeline")).body["entries"]]
    assert kinds == ["case_created", "accepted", "sent", "sent", "delivered"]
    outbox = await api.get("/v1/sandbox/sms")
    assert [m["ref"] for m in outbox.body["messages"]] == [message["provider_ref"]]


async def test_a_job_run_twice_sends_once(api: ApiClient, runtime: Any) -> None:
    await api.put("/v1/cases/C-2", case_body())
    ids = [
        (await api.post("/v1/reminders", reminder("C-2", "sms", key=f"k{i}"))).body["id"]
        for i in range(20)
    ]
    results = await asyncio.gather(
        dispatch(runtime, ids), dispatch(runtime, ids), dispatch(runtime, ids)
    )
    assert sum(r.get("sent", 0) for r in results) == 20
    outbox = await api.get(
        "/v1/sandbox/sms",
    )
    assert len(outbox.body["messages"]) == 20


async def test_a_batch_another_worker_holds_is_skipped_and_left_waiting_if_that_worker_dies(
    api: ApiClient, runtime: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL holds a batch by row lock; SQLite's claim is tested above")
    from gateway.store import messages as store

    await api.put("/v1/cases/C-3", case_body())
    ids = [
        (await api.post("/v1/reminders", reminder("C-3", "sms", key=f"h{i}"))).body["id"]
        for i in range(3)
    ]
    async with runtime.engine.connect() as other:
        held = await other.begin()
        assert sorted(await store.lock_due(other, ids, now=runtime.clock())) == sorted(ids)
        # This worker neither waits for the rows nor sends them: the other batch has them.
        assert await asyncio.wait_for(dispatch(runtime, ids), timeout=30) == {"claimed": 0}
        await held.rollback()  # the other worker died before it decided anything
    assert [await message_state(runtime, i) for i in ids] == ["accepted"] * 3
    assert (await dispatch(runtime, ids))["sent"] == 3


async def test_email_reaches_the_smtp_server_with_headers(
    api: ApiClient, runtime: Any, smtp_server: Any
) -> None:
    await api.put("/v1/cases/C-3", case_body())
    accepted = await api.post("/v1/reminders", reminder("C-3", "email"))
    await drain(runtime)
    assert await message_state(runtime, accepted.body["id"]) == "sent"
    [path] = list(smtp_server.glob("*.eml"))
    mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert mail["To"] == "jane@example.com"
    assert accepted.body["id"] in mail["Message-ID"]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "****1234" in text and "$420.50" in text and "October 1, 2026" in text
    assert mail.get_body(preferencelist=("html",)) is not None
    caught = await api.get("/v1/sandbox/email")
    assert caught.body["messages"][0]["subject"] == mail["Subject"]


async def test_one_click_unsubscribe_suppresses_the_next_email(
    api: ApiClient, runtime: Any, smtp_server: Any
) -> None:
    await api.put("/v1/cases/C-4", case_body())
    first = await api.post("/v1/reminders", reminder("C-4", "email", key="e1"))
    await drain(runtime)
    [path] = list(smtp_server.glob("*.eml"))
    mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    link = mail["List-Unsubscribe"].strip("<>")
    token = link.rsplit("/", 1)[1]
    forged = await api.post(f"/v1/unsubscribe/{first.body['id']}.{'0' * 32}", key=None)
    assert forged.status == 400
    done = await api.post(f"/v1/unsubscribe/{token}", key=None)
    assert done.status == 200
    second = await api.post("/v1/reminders", reminder("C-4", "email", key="e2"))
    await drain(runtime)
    got = await api.get(f"/v1/messages/{second.body['id']}")
    assert got.body["state"] == "suppressed"
    assert got.body["state_reason"].startswith("channel.opted_out")
    assert len(list(smtp_server.glob("*.eml"))) == 1
    case = await api.get("/v1/cases/C-4")
    assert {
        "channel": "email",
        "address": "jane@example.com",
        "status": "opted_out",
        "role": "debtor",
    } in case.body["contacts"]


async def test_letter_pdf_carries_the_debtor_name(api: ApiClient, runtime: Any) -> None:
    await api.put("/v1/cases/C-5", case_body(name="Margaret Hale"))
    accepted = await api.post("/v1/reminders", reminder("C-5", "letter"))
    await drain(runtime)
    message = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert message["state"] == "sent"
    pdf = runtime.settings.letters_dir / f"{message['provider_ref']}.pdf"
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Margaret Hale" in text and "12 Main St" in text


async def test_chinese_sms_counts_ucs2_segments(api: ApiClient, runtime: Any) -> None:
    await api.put(
        "/v1/cases/C-6",
        case_body(name="王小明", locale="zh-CN", currency="CNY", phone="+8613800138000"),
    )
    accepted = await api.post("/v1/reminders", reminder("C-6", "sms"))
    await drain(runtime)
    rendered = (await api.get(f"/v1/messages/{accepted.body['id']}")).body["rendered"]
    assert rendered["encoding"] == "UCS-2"
    assert rendered["locale"] == "zh-CN"
    assert (
        "王小明" in rendered["body"]
        and "尾号1234" in rendered["body"]
        and "退订" in rendered["body"]
    )
    assert rendered["parts"] == -(-rendered["units"] // 67)


async def test_not_before_is_honoured_by_the_pump(api: ApiClient, runtime: Any, clock: Any) -> None:
    await api.put("/v1/cases/C-7", case_body())
    later = (clock() + timedelta(hours=2)).isoformat()
    accepted = await api.post("/v1/reminders", reminder("C-7", "sms", not_before=later))
    assert await drain(runtime) == 0
    assert await pump_once(runtime) == 0
    clock.advance(hours=1, minutes=59)
    assert await pump_once(runtime) == 0
    clock.advance(minutes=2)
    assert await pump_once(runtime) == 1
    await drain(runtime)
    assert await message_state(runtime, accepted.body["id"]) == "sent"


async def test_expired_message_is_not_sent(api: ApiClient, runtime: Any, clock: Any) -> None:
    await api.put("/v1/cases/C-8", case_body())
    soon = (clock() + timedelta(minutes=5)).isoformat()
    accepted = await api.post("/v1/reminders", reminder("C-8", "sms", expires_at=soon))
    clock.advance(minutes=6)
    await drain(runtime)
    got = await api.get(f"/v1/messages/{accepted.body['id']}")
    assert got.body["state"] == "expired"
    assert (await api.get("/v1/sandbox/sms")).body["messages"] == []


async def test_smtp_down_means_retry_with_backoff_then_failed(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    # No SMTP server listens on the test's port: every attempt is a transient failure.
    await api.put("/v1/cases/C-9", case_body())
    accepted = await api.post("/v1/reminders", reminder("C-9", "email"))
    message_id = accepted.body["id"]
    await drain(runtime)
    first = (await api.get(f"/v1/messages/{message_id}")).body
    assert first["state"] == "retry_wait" and first["attempts"] == 1
    assert first["next_attempt_at"] > clock().isoformat()
    for _ in range(runtime.settings.max_attempts - 1):
        clock.advance(hours=2)
        assert await pump_once(runtime) == 1
        await drain(runtime)
    final = (await api.get(f"/v1/messages/{message_id}")).body
    assert final["state"] == "failed" and final["attempts"] == runtime.settings.max_attempts
    attempts = [
        h["data"]["attempt"] for h in final["history"] if h["kind"] in ("retry_scheduled", "failed")
    ]
    assert attempts == list(range(1, runtime.settings.max_attempts + 1))
    kinds = [e["kind"] for e in (await api.get("/v1/cases/C-9/timeline")).body["entries"]]
    assert kinds.count("retry_scheduled") == runtime.settings.max_attempts - 1
    assert kinds[-1] == "failed"


async def test_sweeper_never_resends_a_message_that_may_have_left(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    from gateway.states import State
    from gateway.store import messages as store

    await api.put("/v1/cases/C-10", case_body())
    a = (await api.post("/v1/reminders", reminder("C-10", "sms", key="a"))).body["id"]
    b = (await api.post("/v1/reminders", reminder("C-10", "sms", key="b"))).body["id"]
    now = clock()
    async with runtime.engine.begin() as conn:
        token = store.new_claim_token()
        claimed = await store.claim(conn, [a, b], now=now, lease_s=30, token=token)
        assert sorted(claimed) == sorted([a, b])
        # `a` reached the provider call when its worker died; `b` did not.
        await store.transition(conn, [a], State.SENDING, now=now, held_by=token)
    clock.advance(seconds=10)
    assert await sweep_once(runtime) == {"requeued": 0, "unknown": 0}
    clock.advance(seconds=31)
    assert await sweep_once(runtime) == {"requeued": 1, "unknown": 1}
    assert await message_state(runtime, a) == "unknown"
    assert await message_state(runtime, b) == "retry_wait"
    await pump_once(runtime)
    await drain(runtime)
    assert await message_state(runtime, a) == "unknown"
    assert await message_state(runtime, b) == "sent"


def _sandbox_receipt(
    secret: str, ref: str, status: str, event_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "event_id": event_id or f"{ref}:{status}",
            "message_ref": ref,
            "status": status,
            "occurred_at": "2026-11-22T10:00:00+00:00",
        }
    ).encode()
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Sandbox-Signature": sig}


async def test_receipts_are_verified_deduplicated_and_monotonic(
    api: ApiClient, runtime: Any
) -> None:
    runtime.providers["sandbox"].receipts.hold()  # the test plays the carrier
    await api.put("/v1/cases/C-11", case_body())
    accepted = await api.post("/v1/reminders", reminder("C-11", "sms"))
    await drain(runtime)
    ref = (await api.get(f"/v1/messages/{accepted.body['id']}")).body["provider_ref"]
    secret = runtime.settings.sandbox_secret
    path = "/v1/providers/sandbox/receipts"

    body, headers = _sandbox_receipt("not-the-secret", ref, "delivered")
    forged = await api.call("POST", path, data=body, headers=headers, key=None)
    assert forged.status == 401
    assert await message_state(runtime, accepted.body["id"]) == "sent"

    body, headers = _sandbox_receipt(secret, ref, "delivered")
    assert (await api.call("POST", path, data=body, headers=headers, key=None)).body["new"] == 1
    assert (await api.call("POST", path, data=body, headers=headers, key=None)).body[
        "duplicate"
    ] == 1
    late_body, late_headers = _sandbox_receipt(secret, ref, "sent")
    await api.call("POST", path, data=late_body, headers=late_headers, key=None)
    got = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert got["state"] == "delivered"
    assert [e["type"] for e in got["events"]] == ["delivered", "sent"]

    bad_body, bad_headers = _sandbox_receipt(secret, ref, "exploded")
    assert (
        await api.call("POST", path, data=bad_body, headers=bad_headers, key=None)
    ).status == 422


async def test_receipt_for_an_unknown_reference_is_kept_and_reconciled(
    api: ApiClient, runtime: Any
) -> None:
    from channels.base import SendResult

    sandbox = runtime.providers["sandbox"]
    sandbox.receipts.hold()  # the test plays the carrier
    original = sandbox.send
    ref_holder: dict[str, str] = {}

    async def send_with_early_receipt(message: Any) -> SendResult:
        result = await original(message)
        ref_holder["ref"] = result.provider_ref
        # The carrier's receipt overtakes our own bookkeeping: it arrives before `sent` is recorded.
        body, headers = _sandbox_receipt(
            runtime.settings.sandbox_secret, result.provider_ref, "delivered"
        )
        resp = await api.call(
            "POST", "/v1/providers/sandbox/receipts", data=body, headers=headers, key=None
        )
        assert resp.body == {"received": 1, "new": 1, "duplicate": 0}
        return result

    sandbox.send = send_with_early_receipt
    await api.put("/v1/cases/C-12", case_body())
    accepted = await api.post("/v1/reminders", reminder("C-12", "sms"))
    await drain(runtime)
    got = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert got["state"] == "delivered"
    assert got["events"][0]["type"] == "delivered"


async def test_sandbox_inbound_reply_lands_on_the_case(api: ApiClient) -> None:
    await api.put("/v1/cases/C-13", case_body(phone="+14155550188"))
    resp = await api.post(
        "/v1/providers/sandbox/inbound",
        {"from": "+1 415 555 0188", "to": "+15005550006", "body": "I'll pay on Friday"},
    )
    assert resp.status == 200 and resp.body["replies"][0]["case_ref"] == "C-13"
    entries = (await api.get("/v1/cases/C-13/timeline")).body["entries"]
    [received] = [e for e in entries if e["kind"] == "reply_received"]
    assert received["data"]["body"] == "I'll pay on Friday"
    assert received["data"]["category"] == "promise_to_pay"
    unsigned = await api.post(
        "/v1/providers/sandbox/inbound", {"from": "+14155550188", "to": "x", "body": "hi"}, key=None
    )
    assert unsigned.status == 401


async def test_pump_recovers_jobs_lost_from_redis(
    api: ApiClient, runtime: Any, redis_client: Any, clock: Any
) -> None:
    await api.put("/v1/cases/C-14", case_body())
    ids = [
        (await api.post("/v1/reminders", reminder("C-14", "sms", key=f"f{i}"))).body["id"]
        for i in range(5)
    ]
    redis_client.flushdb()
    assert await drain(runtime) == 0
    assert await pump_once(runtime) == 0  # enqueued moments ago: not yet considered lost
    clock.advance(seconds=runtime.settings.requeue_after_s + 1)
    assert await pump_once(runtime) == 5
    await drain(runtime)
    async with runtime.engine.connect() as conn:
        states = (
            (await conn.execute(sa.select(messages.c.state).where(messages.c.id.in_(ids))))
            .scalars()
            .all()
        )
    assert set(states) == {"sent"}


async def test_a_backlog_still_queued_is_not_enqueued_twice(
    api: ApiClient, runtime: Any, redis_client: Any, clock: Any
) -> None:
    from rq import Queue

    await api.put("/v1/cases/C-15", case_body())
    for i in range(5):
        await api.post("/v1/reminders", reminder("C-15", "sms", key=f"q{i}"))
    queue = Queue(runtime.keys.dispatch_queue, connection=runtime.redis)
    queued = queue.count
    # Long enough for the pump to call them lost — but their jobs are still waiting in Redis,
    # draining behind a slow provider: enqueueing them again would only add duplicates.
    clock.advance(seconds=runtime.settings.requeue_after_s + 1)
    assert await pump_once(runtime) == 0
    assert queue.count == queued
    redis_client.flushdb()  # now they are lost, and found again
    assert await pump_once(runtime) == 5
    assert await drain(runtime) >= 1


async def test_no_answer_to_smtp_data_makes_the_message_unknown_not_resent(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    from aiosmtpd.smtp import SMTP

    received: list[bytes] = []

    class Silent:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.original_content)
            await asyncio.sleep(5)  # the server has the mail but its answer never arrives in time
            return "250 OK"

    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(Silent()), "127.0.0.1", runtime.settings.smtp_port
    )
    runtime.providers["smtp"].timeout_s = 1.0
    try:
        await api.put("/v1/cases/C-15", case_body())
        accepted = await api.post("/v1/reminders", reminder("C-15", "email"))
        await drain(runtime)
        got = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
        assert got["state"] == "unknown" and "DATA" in got["state_reason"]
        clock.advance(hours=1)
        assert await pump_once(runtime) == 0
        await drain(runtime)
        assert len(received) == 1
    finally:
        server.close()


async def test_a_pooled_connection_closed_by_the_server_is_replaced_at_once(
    api: ApiClient, runtime: Any, smtp_server: Any
) -> None:
    await api.put("/v1/cases/C-16", case_body())
    first = await api.post("/v1/reminders", reminder("C-16", "email", key="p1"))
    await drain(runtime)
    pool = runtime.providers["smtp"]
    dropped = list(pool._idle._queue)
    for client in dropped:  # the server drops idle connections
        client.transport.close() if client.transport else None

    async def noticed() -> bool:
        return not any(client.is_connected for client in dropped)

    await wait_for(noticed, timeout=10.0, interval=0.01)
    second = await api.post("/v1/reminders", reminder("C-16", "email", key="p2"))
    await drain(runtime)
    for accepted in (first, second):
        assert (await api.get(f"/v1/messages/{accepted.body['id']}")).body["state"] == "sent"
    assert len(list(smtp_server.glob("*.eml"))) == 2
