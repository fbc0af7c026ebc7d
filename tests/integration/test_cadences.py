"""Follow-up cadences through the API, with the injectable clock: the built-in cadences listed,
a cadence started, replaced and stopped on a case, its steps released by the scheduler's pump as
messages that meet the contact policy like any reminder (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gateway.services.due_work import pump_once
from tests.conftest import at
from tests.support import (
    ApiClient,
    case_body,
    drain,
    release_receipts,
    scheduler_tick,
    steps_by_name,
)

# case_body's debt fell due on 2026-10-01: DPD 1 is 2026-10-02.
DPD1 = at("2026-10-02T15:00:00+00:00")


async def _messages_of(runtime: Any, case_ref: str) -> int:
    import sqlalchemy as sa

    from gateway.store.tables import cases, messages

    async with runtime.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(messages.join(cases, cases.c.id == messages.c.case_id))
                    .where(cases.c.case_ref == case_ref)
                )
            ).scalar_one()
        )


async def test_the_built_in_cadences_are_listed_and_an_unknown_one_is_named(
    api: ApiClient,
) -> None:
    listed = (await api.get("/v1/cadences")).body["cadences"]
    names = [c["name"] for c in listed]
    assert names == ["first-party-card", "us-third-party"]
    card = (await api.get("/v1/cadences/first-party-card")).body
    assert card["counts_from"] == "dpd" and card["stop_on"] == ["paid", "closed", "hold", "ceased"]
    assert [s["dpd"] for s in card["steps"]] == [1, 3, 7, 10, 14, 21, 30, 35, 45, 60]
    assert (
        card["steps"][0]["channel"] == "sms" and card["steps"][0]["fallback"]["channel"] == "email"
    )
    third = (await api.get("/v1/cadences/us-third-party")).body
    first = third["steps"][0]
    assert (first["after_start"], first["channel"], first["purpose"]) == (
        "0d",
        "letter",
        "validation_notice",
    )
    missing = await api.get("/v1/cadences/first-party-crad")
    assert missing.status == 404 and missing.body["error"]["code"] == "unknown_cadence"
    message = missing.body["error"]["message"]
    assert "did you mean 'first-party-card'?" in message and "us-third-party" in message


async def test_the_first_party_cadence_sends_the_sms_on_dpd_1(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    clock.set(DPD1)
    await api.put("/v1/cases/CD-1", case_body())
    started = await api.put("/v1/cases/CD-1/cadence", {"cadence": "first-party-card"})
    assert started.status == 200, started.body
    steps = steps_by_name(started.body)
    assert steps["dpd1-sms"]["state"] == "pending"
    assert steps["dpd1-sms"]["due_at"].startswith("2026-10-02T00:00")
    # Projected from when the SMS goes (now, 15:00), two days on.
    assert steps["dpd3-email"]["due_at"].startswith("2026-10-04T15:00")

    await scheduler_tick(runtime)
    sms = (await api.get("/v1/sandbox/sms")).body["messages"]
    assert len(sms) == 1 and "friendly reminder" in sms[0]["body"]
    shown = steps_by_name((await api.get("/v1/cases/CD-1/cadence")).body)
    assert shown["dpd1-sms"]["state"] == "sent" and shown["dpd1-sms"]["message_id"]
    assert shown["dpd3-email"]["state"] == "pending"
    message = (await api.get(f"/v1/messages/{shown['dpd1-sms']['message_id']}")).body
    assert message["template"] == "soft_reminder" and message["state"] == "sent"

    # Nothing more before DPD 3 (the SMS was delivered: no fallback); on DPD 3 the email.
    await release_receipts(runtime)
    await scheduler_tick(runtime)
    assert len((await api.get("/v1/sandbox/sms")).body["messages"]) == 1
    clock.set(at("2026-10-04T16:00:00+00:00"))
    await scheduler_tick(runtime)
    shown = steps_by_name((await api.get("/v1/cases/CD-1/cadence")).body)
    assert shown["dpd3-email"]["state"] == "sent"
    kinds = [e["kind"] for e in (await api.get("/v1/cases/CD-1/timeline")).body["entries"]]
    assert kinds.count("cadence_started") == 1 and kinds.count("cadence_step_released") == 2


async def test_the_same_put_twice_is_one_run_and_a_new_one_replaces_it(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(DPD1)
    await api.put("/v1/cases/CD-2", case_body())
    body = {"cadence": "first-party-card"}
    first = await api.put("/v1/cases/CD-2/cadence", body)
    clock.advance(minutes=5)
    again = await api.put("/v1/cases/CD-2/cadence", body)
    assert again.status == 200 and again.body == first.body
    timeline = (await api.get("/v1/cases/CD-2/timeline")).body["entries"]
    assert [e["kind"] for e in timeline].count("cadence_started") == 1

    start = "2026-10-02T12:00:00+00:00"
    replaced = await api.put(
        "/v1/cases/CD-2/cadence", {"cadence": "us-third-party", "start": start}
    )
    assert replaced.body["cadence"] == "us-third-party"
    entries = (await api.get("/v1/cases/CD-2/timeline")).body["entries"]
    stopped = [e for e in entries if e["kind"] == "cadence_stopped"]
    assert (
        len(stopped) == 1 and "replaced by cadence 'us-third-party'" in stopped[0]["data"]["reason"]
    )
    assert "dpd1-sms" in stopped[0]["data"]["cancelled"]
    # The validation notice goes first, on placement day 0.
    await scheduler_tick(runtime)
    shown = steps_by_name((await api.get("/v1/cases/CD-2/cadence")).body)
    assert shown["day0-validation-notice"]["state"] in ("released", "sent")
    letter = (await api.get(f"/v1/messages/{shown['day0-validation-notice']['message_id']}")).body
    assert letter["channel"] == "letter" and letter["template"] == "validation_notice"


async def test_delete_cancels_the_pending_steps_with_why(api: ApiClient, clock: Any) -> None:
    clock.set(DPD1)
    await api.put("/v1/cases/CD-3", case_body())
    await api.put("/v1/cases/CD-3/cadence", {"cadence": "first-party-card"})
    stopped = await api.delete("/v1/cases/CD-3/cadence")
    assert stopped.status == 200 and stopped.body["state"] == "stopped"
    assert {s["state"] for s in stopped.body["steps"]} == {"cancelled"}
    assert stopped.body["steps"][0]["reason"] == "stopped by key:test"
    assert (await api.delete("/v1/cases/CD-3/cadence")).status == 404
    assert (await api.get("/v1/cases/CD-3/cadence")).body["state"] == "stopped"


async def test_a_redis_flush_then_a_pump_still_releases_the_due_step(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(DPD1)
    await api.put("/v1/cases/CD-4", case_body())
    await api.put("/v1/cases/CD-4/cadence", {"cadence": "first-party-card"})
    runtime.redis.flushdb()
    await scheduler_tick(runtime)
    assert len((await api.get("/v1/sandbox/sms")).body["messages"]) == 1
    # Flushed again after the release (the sandbox's outbox with it): another tick releases
    # nothing more and sends nothing twice.
    runtime.redis.flushdb()
    clock.advance(minutes=5)
    await scheduler_tick(runtime)
    await pump_once(runtime)
    await drain(runtime)
    assert (await api.get("/v1/sandbox/sms")).body["messages"] == []
    assert await _messages_of(runtime, "CD-4") == 1


async def test_a_step_released_twice_is_still_one_message(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    import sqlalchemy as sa

    from gateway.store.tables import cadence_steps

    clock.set(DPD1)
    await api.put("/v1/cases/CD-8", case_body())
    await api.put("/v1/cases/CD-8/cadence", {"cadence": "first-party-card"})
    await scheduler_tick(runtime)
    first = steps_by_name((await api.get("/v1/cases/CD-8/cadence")).body)["dpd1-sms"]["message_id"]
    # As if the pump died after intake committed the message and before it marked the step.
    async with runtime.engine.begin() as conn:
        await conn.execute(
            sa.update(cadence_steps)
            .where(cadence_steps.c.message_id == first)
            .values(state="pending", message_id=None, check_at=clock())
        )
    await scheduler_tick(runtime)
    again = steps_by_name((await api.get("/v1/cases/CD-8/cadence")).body)["dpd1-sms"]
    assert again["message_id"] == first
    assert await _messages_of(runtime, "CD-8") == 1
    assert len((await api.get("/v1/sandbox/sms")).body["messages"]) == 1


async def test_a_deferred_step_moves_the_next_one(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    clock.set(DPD1)
    # The debtor asked to be written to only in the evening: the policy defers the SMS of DPD 1,
    # 15:00 UTC, to the evening of the debtor's zones.
    evenings = {"hours": {"start": "17:00", "end": "20:00"}}
    await api.put("/v1/cases/CD-5", {**case_body(), "restrictions": evenings})
    await api.put("/v1/cases/CD-5/cadence", {"cadence": "first-party-card"})
    await scheduler_tick(runtime)
    shown = steps_by_name((await api.get("/v1/cases/CD-5/cadence")).body)
    assert shown["dpd1-sms"]["state"] == "released", shown["dpd1-sms"]["reason"]
    message = (await api.get(f"/v1/messages/{shown['dpd1-sms']['message_id']}")).body
    assert message["state"] == "deferred"
    evening = at(message["next_attempt_at"])
    assert DPD1 + timedelta(hours=1) < evening < DPD1 + timedelta(hours=12)
    # The pump looks again after the message's next attempt was due, and moves the email.
    clock.advance(minutes=2)
    await scheduler_tick(runtime)
    shown = steps_by_name((await api.get("/v1/cases/CD-5/cadence")).body)
    # The email waits two days after the SMS actually goes, not two days after 15:00.
    assert at(shown["dpd3-email"]["due_at"]) == evening + timedelta(days=2)

    clock.set(evening)
    await pump_once(runtime)
    await scheduler_tick(runtime)
    shown = steps_by_name((await api.get("/v1/cases/CD-5/cadence")).body)
    assert shown["dpd1-sms"]["state"] == "sent"
    assert shown["dpd3-email"]["state"] == "pending"
    assert at(shown["dpd3-email"]["due_at"]) == evening + timedelta(days=2)
    assert (await api.get("/v1/sandbox/email")).body["messages"] == []
    await release_receipts(runtime)  # the SMS was delivered: no fallback
    clock.set(evening + timedelta(days=2, minutes=1))
    await scheduler_tick(runtime)
    assert (
        steps_by_name((await api.get("/v1/cases/CD-5/cadence")).body)["dpd3-email"]["state"]
        == "sent"
    )


async def test_a_stop_condition_stops_the_run(api: ApiClient, runtime: Any, clock: Any) -> None:
    clock.set(DPD1)
    await api.put("/v1/cases/CD-6", case_body())
    await api.put("/v1/cases/CD-6/cadence", {"cadence": "first-party-card"})
    await api.post("/v1/cases/CD-6/events", {"type": "dispute"})
    await scheduler_tick(runtime)
    shown = (await api.get("/v1/cases/CD-6/cadence")).body
    assert shown["state"] == "stopped" and shown["end_reason"].startswith("stop_on.hold")
    assert (await api.get("/v1/sandbox/sms")).body["messages"] == []


async def test_bad_cadence_requests_are_4xx_and_change_nothing(api: ApiClient) -> None:
    await api.put("/v1/cases/CD-7", case_body())
    unknown = await api.put("/v1/cases/CD-7/cadence", {"cadence": "first-party-cards"})
    assert unknown.status == 404 and "first-party-card" in unknown.body["error"]["message"]
    assert (await api.put("/v1/cases/CD-7/cadence", {"cadence": "x", "extra": 1})).status == 422
    assert (
        await api.put("/v1/cases/CD-404/cadence", {"cadence": "first-party-card"})
    ).status == 404
    assert (await api.get("/v1/cases/CD-7/cadence")).status == 404
    assert (await api.delete("/v1/cases/CD-7/cadence")).status == 404
