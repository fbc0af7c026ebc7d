"""Stopping and resuming cadences through the API, with the injectable clock and the pump: a case
change acts on the case's cadence in its own transaction (a payment in full cancels every
pending step and waiting message at once, a promise to pay pauses the run until the promised
date and its grace, a dispute, hold, cessation or closure stops it), the scheduler's tick finds
the promises that passed (`promise_broken`, the run resumes at its current step), an opted-out
channel's steps are skipped or go by their fallback, and `DELETE /v1/messages/{id}` cancels one
waiting message (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from gateway.settings import Settings
from gateway.store.tables import webhook_deliveries
from tests.conftest import at
from tests.support import (
    ApiClient,
    case_body,
    drain,
    release_receipts,
    reminder,
    scheduler_tick,
    sms_reply,
    steps_by_name,
)

# case_body's debt fell due on 2026-10-01: DPD 1 is Friday 2026-10-02.
DPD1 = at("2026-10-02T15:00:00+00:00")
SATURDAY = at("2026-10-03T10:00:00+00:00")
# A promise for Friday 2026-10-09 pauses until two days after it.
PROMISED, PAUSE_ENDS = "2026-10-09", at("2026-10-11T00:00:00+00:00")


OPT_OUT_CADENCE = {
    "name": "sms-then-fallback",
    "steps": [
        {"name": "a-sms", "after_start": "0d", "channel": "sms", "template": "soft_reminder"},
        {
            "name": "b-sms",
            "after_start": "1d",
            "channel": "sms",
            "template": "soft_reminder",
            "fallback": {"channel": "email", "template": "payment_options"},
        },
        {"name": "c-sms", "after_start": "2d", "channel": "sms", "template": "soft_reminder"},
        {"name": "d-email", "after_start": "3d", "channel": "email", "template": "payment_options"},
    ],
}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The suite's settings, with an operator's cadence whose SMS step has a fallback."""
    folder = tmp_path / "cadences"
    folder.mkdir()
    (folder / "sms-then-fallback.yaml").write_text(yaml.safe_dump(OPT_OUT_CADENCE))
    return dataclasses.replace(settings, cadences_dir=folder)


async def _cadence(api: ApiClient, ref: str) -> dict[str, Any]:
    got = await api.get(f"/v1/cases/{ref}/cadence")
    assert got.status == 200, got.body
    return dict(got.body)


async def _entries(api: ApiClient, ref: str) -> list[dict[str, Any]]:
    return list((await api.get(f"/v1/cases/{ref}/timeline")).body["entries"])


async def _started(api: ApiClient, runtime: Any, clock: Any, ref: str, **body: Any) -> None:
    """A case on the first-party cadence whose DPD 1 SMS went out and was delivered (an SMS with
    no delivery receipt would fall back to email after a day: escalation)."""
    clock.set(DPD1)
    await api.put(f"/v1/cases/{ref}", {**case_body(), **body})
    assert (
        await api.put(f"/v1/cases/{ref}/cadence", {"cadence": "first-party-card"})
    ).status == 200
    await scheduler_tick(runtime)
    await release_receipts(runtime)


async def test_a_full_payment_cancels_pending_steps_and_waiting_messages_at_once(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    await _started(api, runtime, clock, "ST-1")
    assert steps_by_name(await _cadence(api, "ST-1"))["dpd1-sms"]["state"] == "sent"
    later = (DPD1 + timedelta(days=2)).isoformat()
    waiting = await api.post("/v1/reminders", reminder("ST-1", "email", not_before=later))
    assert waiting.status == 202

    paid = await api.post("/v1/cases/ST-1/events", {"type": "payment_received", "amount": "420.50"})
    assert paid.body["state"] == "closed" and paid.body["pending_reevaluated"] == 1
    # No tick: the run stopped in the event's own transaction.
    run = await _cadence(api, "ST-1")
    assert run["state"] == "stopped"
    assert run["end_reason"] == "stop_on.paid: the case is closed (paid)"
    steps = steps_by_name(run)
    assert steps["dpd1-sms"]["state"] == "sent"
    later_steps = [s for name, s in steps.items() if name != "dpd1-sms"]
    assert {s["state"] for s in later_steps} == {"cancelled"}
    assert {s["reason"] for s in later_steps} == {"stop_on.paid: the case is closed (paid)"}
    message = (await api.get(f"/v1/messages/{waiting.body['id']}")).body
    assert (message["state"], message["state_reason"]) == ("cancelled", "case closed (paid)")
    assert message["next_attempt_at"] is None
    assert "cancelled" in [h["kind"] for h in message["history"]]
    kinds = [e["kind"] for e in await _entries(api, "ST-1")]
    assert kinds[-3:] == ["event_payment_received", "cancelled", "cadence_stopped"]

    # Nothing more goes, whatever the clock.
    clock.set(DPD1 + timedelta(days=70))
    await scheduler_tick(runtime)
    assert (await api.get("/v1/messages/" + waiting.body["id"])).body["state"] == "cancelled"
    assert len((await api.get("/v1/sandbox/sms")).body["messages"]) == 1


async def test_a_full_payment_cancels_a_released_step_s_waiting_message(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    # The debtor's hours defer the DPD 1 SMS to the evening: released, its message waiting.
    evenings = {"hours": {"start": "17:00", "end": "20:00"}}
    await _started(api, runtime, clock, "ST-2", restrictions=evenings)
    step = steps_by_name(await _cadence(api, "ST-2"))["dpd1-sms"]
    assert step["state"] == "released"
    await api.post("/v1/cases/ST-2/events", {"type": "payment_received", "amount": "420.50"})
    message = (await api.get(f"/v1/messages/{step['message_id']}")).body
    assert message["state"] == "cancelled"
    step = steps_by_name(await _cadence(api, "ST-2"))["dpd1-sms"]
    assert step["state"] == "skipped"
    assert step["reason"] == "message cancelled: case closed (paid)"
    clock.advance(hours=12)
    await scheduler_tick(runtime)
    assert (await api.get("/v1/sandbox/sms")).body["messages"] == []


async def test_a_partial_payment_continues_the_cadence(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    await _started(api, runtime, clock, "ST-3")
    partial = {"type": "payment_received", "amount": "100.00", "full": False}
    assert (await api.post("/v1/cases/ST-3/events", partial)).body["state"] == "active"
    run = await _cadence(api, "ST-3")
    assert run["state"] == "active" and steps_by_name(run)["dpd3-email"]["state"] == "pending"
    clock.set(at("2026-10-04T16:00:00+00:00"))
    await scheduler_tick(runtime)
    assert steps_by_name(await _cadence(api, "ST-3"))["dpd3-email"]["state"] == "sent"


async def test_a_promise_pauses_the_run_then_a_broken_promise_resumes_it(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    hook = await api.post(
        "/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["case.state_changed"]}
    )
    assert hook.status == 201
    await _started(api, runtime, clock, "ST-4")
    clock.set(SATURDAY)
    promise = {"type": "promise_to_pay", "promised_date": PROMISED}
    assert (await api.post("/v1/cases/ST-4/events", promise)).body["state"] == "paused"
    # At once: the email of DPD 3 (due Sunday) waits for the pause's end, the later steps with it.
    steps = steps_by_name(await _cadence(api, "ST-4"))
    assert at(steps["dpd3-email"]["due_at"]) == PAUSE_ENDS
    assert at(steps["dpd7-sms"]["due_at"]) == PAUSE_ENDS + timedelta(days=4)

    # Nothing is released while paused.
    for moment in ("2026-10-04T16:00:00+00:00", "2026-10-08T12:00:00+00:00"):
        clock.set(at(moment))
        await scheduler_tick(runtime)
    assert steps_by_name(await _cadence(api, "ST-4"))["dpd3-email"]["state"] == "pending"
    assert (await api.get("/v1/sandbox/email")).body["messages"] == []
    assert "promise_broken" not in [e["kind"] for e in await _entries(api, "ST-4")]

    # The pause passes without a payment: the promise is broken and the run resumes where it was.
    clock.set(PAUSE_ENDS + timedelta(minutes=1))
    await scheduler_tick(runtime)
    case = (await api.get("/v1/cases/ST-4")).body
    assert (case["state"], case["state_reason"]) == ("active", None)
    entries = await _entries(api, "ST-4")
    kinds = [e["kind"] for e in entries]
    assert kinds.count("promise_broken") == 1
    assert kinds.index("promise_broken") < kinds.index(
        "cadence_step_released", kinds.index("event_promise_to_pay")
    )
    broken = next(e for e in entries if e["kind"] == "promise_broken")
    assert broken["data"]["paused_for"] == "promise_to_pay"
    assert broken["data"]["previous_state"] == "paused" and broken["data"]["state"] == "active"
    assert steps_by_name(await _cadence(api, "ST-4"))["dpd3-email"]["state"] == "sent"
    async with runtime.engine.connect() as conn:
        causes = [
            r.data["cause"]
            for r in await conn.execute(
                sa.select(webhook_deliveries.c.data).order_by(webhook_deliveries.c.id)
            )
        ]
    assert causes == ["event_promise_to_pay", "promise_broken"]
    # Another tick finds nothing more to resume.
    await scheduler_tick(runtime)
    assert [e["kind"] for e in await _entries(api, "ST-4")].count("promise_broken") == 1


async def test_a_reply_promising_to_pay_on_friday_pauses_the_run_until_sunday(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    await _started(api, runtime, clock, "ST-5")
    clock.set(SATURDAY)
    await sms_reply(api, "I'll pay on Friday")
    case = (await api.get("/v1/cases/ST-5")).body
    assert (case["state"], at(case["state_until"])) == ("paused", PAUSE_ENDS)
    steps = steps_by_name(await _cadence(api, "ST-5"))
    assert at(steps["dpd3-email"]["due_at"]) == PAUSE_ENDS
    assert at(steps["dpd10-letter"]["due_at"]) == PAUSE_ENDS + timedelta(days=7)


async def test_a_payment_during_the_pause_stops_the_run_and_breaks_no_promise(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    await _started(api, runtime, clock, "ST-6")
    clock.set(SATURDAY)
    await api.post("/v1/cases/ST-6/events", {"type": "promise_to_pay", "promised_date": PROMISED})
    clock.set(at("2026-10-09T12:00:00+00:00"))
    await api.post("/v1/cases/ST-6/events", {"type": "payment_received", "amount": "420.50"})
    run = await _cadence(api, "ST-6")
    assert run["state"] == "stopped" and run["end_reason"].startswith("stop_on.paid")
    clock.set(PAUSE_ENDS + timedelta(days=1))
    await scheduler_tick(runtime)
    assert "promise_broken" not in [e["kind"] for e in await _entries(api, "ST-6")]
    assert (await api.get("/v1/cases/ST-6")).body["state"] == "closed"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"type": "dispute"}, "stop_on.hold: the case is hold (dispute)"),
        ({"type": "hold", "hold": "bankruptcy"}, "stop_on.hold: the case is hold (bankruptcy)"),
        ({"type": "cease"}, "stop_on.ceased: the case is ceased (cease_request)"),
        ({"type": "close", "reason": "settled"}, "stop_on.closed: the case is closed (settled)"),
    ],
)
async def test_a_dispute_hold_cessation_or_closure_stops_the_run_at_once(
    api: ApiClient, runtime: Any, clock: Any, event: dict[str, Any], reason: str
) -> None:
    await _started(api, runtime, clock, "ST-7")
    assert (await api.post("/v1/cases/ST-7/events", event)).status == 200
    run = await _cadence(api, "ST-7")
    assert (run["state"], run["end_reason"]) == ("stopped", reason)
    steps = list(steps_by_name(run).values())
    assert steps[0]["state"] == "sent"
    assert {(s["state"], s["reason"]) for s in steps[1:]} == {("cancelled", reason)}
    stopped = [e for e in await _entries(api, "ST-7") if e["kind"] == "cadence_stopped"]
    assert len(stopped) == 1 and stopped[0]["data"]["reason"] == reason
    assert len(stopped[0]["data"]["cancelled"]) == len(steps) - 1


async def test_a_reply_disputing_the_debt_stops_the_run_at_once(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    await _started(api, runtime, clock, "ST-11")
    await sms_reply(api, "This is not my debt")
    run = await _cadence(api, "ST-11")
    assert (run["state"], run["end_reason"]) == (
        "stopped",
        "stop_on.hold: the case is hold (dispute)",
    )
    assert {s["state"] for s in run["steps"][1:]} == {"cancelled"}


async def test_an_sms_opt_out_skips_the_sms_steps_and_sends_the_fallback(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    clock.set(DPD1)
    await api.put("/v1/cases/ST-8", case_body())
    put = await api.put("/v1/cases/ST-8/cadence", {"cadence": "sms-then-fallback"})
    assert put.status == 200, put.body
    await scheduler_tick(runtime)
    await sms_reply(api, "STOP")
    await drain(runtime)
    texts = (await api.get("/v1/sandbox/sms")).body["messages"]
    assert len(texts) == 2  # the first step and the opt-out's one confirmation

    clock.advance(days=1, minutes=1)
    await scheduler_tick(runtime)
    b = steps_by_name(await _cadence(api, "ST-8"))["b-sms"]
    assert b["state"] == "sent"
    assert b["reason"] == (
        "opted_out: the debtor opted out of sms; its fallback goes instead (email, payment_options)"
    )
    fallback = (await api.get(f"/v1/messages/{b['message_id']}")).body
    assert (fallback["channel"], fallback["template"]) == ("email", "payment_options")
    released = [e for e in await _entries(api, "ST-8") if e["kind"] == "cadence_step_released"]
    assert released[-1]["data"]["step"] == "b-sms" and released[-1]["data"]["channel"] == "email"
    assert released[-1]["message_id"] == b["message_id"]

    clock.advance(days=1)
    await scheduler_tick(runtime)
    c = steps_by_name(await _cadence(api, "ST-8"))["c-sms"]
    assert (c["state"], c["reason"]) == ("skipped", "opted_out: the debtor opted out of sms")
    assert c["message_id"] is None
    # Only that channel: the email step still goes, and no SMS after the confirmation.
    clock.advance(days=1)
    await scheduler_tick(runtime)
    assert steps_by_name(await _cadence(api, "ST-8"))["d-email"]["state"] == "sent"
    assert len((await api.get("/v1/sandbox/sms")).body["messages"]) == 2


async def test_delete_cancels_a_waiting_message_and_refuses_a_sent_one(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(DPD1)
    await api.put("/v1/cases/ST-9", case_body())
    later = (DPD1 + timedelta(days=1)).isoformat()
    waiting = await api.post("/v1/reminders", reminder("ST-9", "sms", key="w", not_before=later))
    cancelled = await api.delete(f"/v1/messages/{waiting.body['id']}")
    assert cancelled.status == 200, cancelled.body
    assert cancelled.body["state"] == "cancelled"
    assert cancelled.body["state_reason"] == "cancelled by key:test"
    assert cancelled.body["next_attempt_at"] is None
    entry = [h for h in cancelled.body["history"] if h["kind"] == "cancelled"]
    assert len(entry) == 1 and entry[0]["actor"] == "key:test"
    again = await api.delete(f"/v1/messages/{waiting.body['id']}")
    assert again.status == 200 and again.body == cancelled.body
    clock.advance(days=2)
    await scheduler_tick(runtime)
    assert (await api.get("/v1/sandbox/sms")).body["messages"] == []

    missing = await api.delete("/v1/messages/" + "0" * 28)
    assert missing.status == 404 and missing.body["error"]["code"] == "unknown_message"
    sent = await api.post("/v1/reminders", reminder("ST-9", "sms", key="s"))
    await drain(runtime)
    refused = await api.delete(f"/v1/messages/{sent.body['id']}")
    assert refused.status == 409 and refused.body["error"]["code"] == "message_handed_over"
    assert (await api.get(f"/v1/messages/{sent.body['id']}")).body["state"] == "sent"


async def test_delete_of_a_step_s_message_skips_the_step_with_why(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    evenings = {"hours": {"start": "17:00", "end": "20:00"}}
    await _started(api, runtime, clock, "ST-10", restrictions=evenings)
    step = steps_by_name(await _cadence(api, "ST-10"))["dpd1-sms"]
    assert step["state"] == "released"
    assert (await api.delete(f"/v1/messages/{step['message_id']}")).status == 200
    step = steps_by_name(await _cadence(api, "ST-10"))["dpd1-sms"]
    assert (step["state"], step["reason"]) == (
        "skipped",
        "message cancelled: cancelled by key:test",
    )
    # The pump looks at the run at once, not at the message's old time.
    clock.advance(seconds=5)
    await scheduler_tick(runtime)
    skipped = [e for e in await _entries(api, "ST-10") if e["kind"] == "cadence_step_skipped"]
    assert [e["data"]["step"] for e in skipped] == ["dpd1-sms"]


async def test_delete_says_why_a_message_that_is_not_waiting_stays(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    from gateway.store.tables import messages

    clock.set(DPD1)
    await api.put("/v1/cases/ST-12", case_body())
    ids = []
    for key in ("claimed", "suppressed"):
        later = (DPD1 + timedelta(days=1)).isoformat()
        ids.append(
            (await api.post("/v1/reminders", reminder("ST-12", key=key, not_before=later))).body[
                "id"
            ]
        )
    async with runtime.engine.begin() as conn:
        for message_id, state in zip(ids, ("dispatching", "suppressed"), strict=True):
            await conn.execute(
                sa.update(messages).where(messages.c.id == message_id).values(state=state)
            )
    for message_id, code in zip(ids, ("message_in_flight", "message_final"), strict=True):
        refused = await api.delete(f"/v1/messages/{message_id}")
        assert refused.status == 409 and refused.body["error"]["code"] == code


async def test_the_tick_ends_every_pause_that_is_over_in_chunks(
    api: ApiClient, runtime: Any, clock: Any, monkeypatch: Any
) -> None:
    from gateway.services import pause_ends

    monkeypatch.setattr(pause_ends, "CHUNK", 2)
    clock.set(SATURDAY)
    refs = ["ST-20", "ST-21", "ST-22"]
    for ref in refs:
        await api.put(f"/v1/cases/{ref}", case_body(phone=None))
        await api.post(
            f"/v1/cases/{ref}/events", {"type": "promise_to_pay", "promised_date": PROMISED}
        )
    # A pause that is not a promise (a hardship, for thirty days) ends without breaking one.
    await api.put("/v1/cases/ST-23", case_body(phone="+14155550177"))
    await sms_reply(api, "I lost my job", phone="+14155550177")
    assert (await api.get("/v1/cases/ST-23")).body["state_reason"] == "hardship"
    # One still paused: a later promise.
    await api.put("/v1/cases/ST-24", case_body(phone=None))
    await api.post(
        "/v1/cases/ST-24/events", {"type": "promise_to_pay", "promised_date": "2026-12-01"}
    )

    clock.set(SATURDAY + timedelta(days=31))
    await scheduler_tick(runtime)
    for ref in refs:
        assert (await api.get(f"/v1/cases/{ref}")).body["state"] == "active"
        assert "promise_broken" in [e["kind"] for e in await _entries(api, ref)]
    kinds = [e["kind"] for e in await _entries(api, "ST-23")]
    assert "pause_ended" in kinds and "promise_broken" not in kinds
    assert (await api.get("/v1/cases/ST-23")).body["state"] == "active"
    assert (await api.get("/v1/cases/ST-24")).body["state"] == "paused"
