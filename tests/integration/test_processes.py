"""Real worker processes: the end-to-end path, SIGKILL mid-batch, and Redis flushed mid-run."""

from __future__ import annotations

import asyncio
import email
import email.policy
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from pypdf import PdfReader

from gateway.services.due_work import scheduler as make_scheduler
from gateway.states import FINAL
from tests.support import ApiClient, case_body, reminder, start_worker, states, wait_for

pytestmark = pytest.mark.slow

FINAL_STATES = {s.value for s in FINAL}


class CountingSink:
    """An SMTP server that records the gateway message id of every mail it accepts (slowly)."""

    def __init__(self, delay: float):
        self.delay = delay
        self.received: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        # Message-ID is <...gateway-id@domain>: the 28-hex id precedes the '@'.
        self.received[mail["Message-ID"].split("@")[0][-28:]] += 1
        return "250 OK"


async def serve_sink(sink: CountingSink, port: int) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: SMTP(sink), "127.0.0.1", port)


async def submit(api: ApiClient, case_ref: str, channel: str, n: int) -> list[str]:
    items = [reminder(case_ref, channel, key=f"{case_ref}-{i}") for i in range(n)]
    resp = await api.post("/v1/reminders/batch", {"items": items})
    assert resp.body["accepted"] == n
    return [r["id"] for r in resp.body["results"]]


def stop(process: Any) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except Exception:  # noqa: BLE001
            process.kill()


async def test_end_to_end_every_channel_through_a_worker_process(
    api: ApiClient, runtime: Any, smtp_server: Path
) -> None:
    await api.put("/v1/cases/E2E-1", case_body(name="Jane Doe"))
    await api.put(
        "/v1/cases/E2E-2",
        case_body(
            name="王小明",
            locale="zh-CN",
            currency="CNY",
            phone="+8613800138000",
            email="wang@example.cn",
        ),
    )
    ids = {}
    for case_ref in ("E2E-1", "E2E-2"):
        for channel in ("sms", "email", "letter"):
            ids[case_ref, channel] = (
                await api.post("/v1/reminders", reminder(case_ref, channel))
            ).body["id"]
    worker = start_worker(runtime.settings)
    try:

        async def delivered() -> bool:
            got = await states(runtime, list(ids.values()))
            return (
                got[ids["E2E-1", "sms"]] == "delivered"
                and got[ids["E2E-2", "sms"]] == "delivered"
                and all(
                    got[ids[c, ch]] == "sent"
                    for c in ("E2E-1", "E2E-2")
                    for ch in ("email", "letter")
                )
            )

        await wait_for(delivered, timeout=60)
    finally:
        stop(worker)

    # No personal data in the worker's log: no phone number, email address, postal address, amount.
    log = worker.log_path.read_text()
    assert '"event": "dispatched"' in log
    for secret in (
        "4155550123",
        "13800138000",
        "jane@example.com",
        "wang@example.cn",
        "Main St",
        "420.50",
        "Jane Doe",
        "王小明",
    ):
        assert secret not in log, f"{secret!r} appears in the worker log"

    for case_ref in ("E2E-1", "E2E-2"):
        entries = (await api.get(f"/v1/cases/{case_ref}/timeline")).body["entries"]
        sms_kinds = [e["kind"] for e in entries if e["message_id"] == ids[case_ref, "sms"]]
        assert sms_kinds[0] == "accepted" and "sent" in sms_kinds and sms_kinds[-1] == "delivered"
        for channel in ("email", "letter"):
            kinds = [e["kind"] for e in entries if e["message_id"] == ids[case_ref, channel]]
            assert kinds == ["accepted", "sent"]

    mails = {}
    for path in smtp_server.glob("*.eml"):
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        mails[mail["To"]] = mail.get_body(preferencelist=("plain",)).get_content()
    for case_ref, address in (("E2E-1", "jane@example.com"), ("E2E-2", "wang@example.cn")):
        rendered = (await api.get(f"/v1/messages/{ids[case_ref, 'email']}")).body["rendered"]
        assert mails[address].replace("\r\n", "\n").strip() == rendered["text"].strip()
    assert "王小明" in mails["wang@example.cn"]

    for case_ref, name in (("E2E-1", "Jane Doe"), ("E2E-2", "王小明")):
        ref = (await api.get(f"/v1/messages/{ids[case_ref, 'letter']}")).body["provider_ref"]
        pdf = runtime.settings.letters_dir / f"{ref}.pdf"
        assert name in "".join(p.extract_text() for p in PdfReader(pdf).pages)


async def test_sigkill_mid_batch_loses_nothing_and_sends_nothing_twice(
    api: ApiClient, runtime: Any
) -> None:
    settings = runtime.settings
    sink = CountingSink(delay=0.03)
    server = await serve_sink(sink, settings.smtp_port)
    await api.put("/v1/cases/K-1", case_body())
    ids = await submit(api, "K-1", "email", 200)
    lease = "3"
    worker = start_worker(settings, SEND_CONCURRENCY="4", DISPATCH_CHUNK="50", CLAIM_LEASE_S=lease)
    try:
        await wait_for(lambda: _gt(sink, 30), timeout=60, interval=0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = sum(sink.received.values())
        assert killed_at < 200, "the worker finished before it could be killed"

        replacement = start_worker(
            settings, SEND_CONCURRENCY="4", DISPATCH_CHUNK="50", CLAIM_LEASE_S=lease
        )
        scheduler = make_scheduler(runtime)
        try:

            async def settled() -> bool:
                await scheduler.tick()
                got = await states(runtime, ids)
                return all(s in FINAL_STATES or s == "unknown" for s in got.values())

            await wait_for(settled, timeout=120, interval=0.5)
        finally:
            stop(replacement)
    finally:
        stop(worker)
        server.close()
        await server.wait_closed()

    got = await states(runtime, ids)
    assert max(sink.received.values()) == 1, "a message was sent twice"
    assert set(got.values()) <= {"sent", "unknown"}
    sent = {i for i, s in got.items() if s == "sent"}
    unknown = {i for i, s in got.items() if s == "unknown"}
    assert sent <= set(sink.received), "a message recorded as sent never reached the server"
    assert unknown, "the kill left no message in flight; the test proved nothing"
    assert len(sent) + len(unknown) == 200
    entries = (
        await api.get(
            "/v1/cases/K-1/timeline",
        )
    ).body["entries"]
    assert any(
        e["kind"] == "claim_expired" and e["data"]["now_state"] == "unknown" for e in entries
    )


async def _gt(sink: CountingSink, n: int) -> bool:
    return sum(sink.received.values()) > n


async def test_redis_flushed_mid_run_every_message_still_finishes(
    api: ApiClient, runtime: Any, redis_client: Any
) -> None:
    settings = runtime.settings
    sink = CountingSink(delay=0.01)
    server = await serve_sink(sink, settings.smtp_port)
    await api.put("/v1/cases/F-1", case_body())
    ids = await submit(api, "F-1", "email", 300)
    worker = start_worker(settings, SEND_CONCURRENCY="4", DISPATCH_CHUNK="25")
    scheduler = make_scheduler(runtime)
    try:
        await wait_for(lambda: _gt(sink, 40), timeout=60, interval=0.02)
        redis_client.flushdb()
        flushed_at = sum(sink.received.values())
        assert flushed_at < 300, "everything was sent before the flush; the test proved nothing"

        async def finished() -> bool:
            await scheduler.tick()
            got = await states(runtime, ids)
            return all(s in FINAL_STATES for s in got.values())

        await wait_for(finished, timeout=120, interval=0.5)
    finally:
        stop(worker)
        server.close()
        await server.wait_closed()
    got = await states(runtime, ids)
    assert set(got.values()) == {"sent"}
    assert sorted(sink.received) == sorted(ids)
    assert max(sink.received.values()) == 1
