"""Upstream case events: payment, promise to pay, dispute, holds, release, close — and their effect
on every message still waiting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gateway.services.due_work import pump_once
from tests.support import ApiClient, case_body, drain, reminder


async def test_a_dispute_stops_every_pending_message_before_its_next_attempt(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    await api.put("/v1/cases/E-1", case_body())
    later = (clock() + timedelta(days=2)).isoformat()
    now_msg = await api.post("/v1/reminders", reminder("E-1", "sms", key="a"))
    later_msg = await api.post("/v1/reminders", reminder("E-1", "email", key="b", not_before=later))
    resp = await api.post("/v1/cases/E-1/events", {"type": "dispute", "note": "not my debt"})
    assert resp.status == 200
    assert resp.body["state"] == "hold" and resp.body["state_reason"] == "dispute"
    assert resp.body["pending_reevaluated"] == 2
    await pump_once(runtime)
    await drain(runtime)
    for accepted in (now_msg, later_msg):
        got = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
        assert got["state"] == "suppressed" and got["state_reason"].startswith("hold.dispute")
    assert (await api.get("/v1/sandbox/sms")).body["messages"] == []
    kinds = [e["kind"] for e in (await api.get("/v1/cases/E-1/timeline")).body["entries"]]
    assert "event_dispute" in kinds and kinds.count("suppressed") == 2


async def test_a_promise_to_pay_pauses_until_two_days_after_the_date(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    await api.put("/v1/cases/E-2", case_body())
    accepted = await api.post(
        "/v1/reminders",
        reminder("E-2", "sms", not_before=(clock() + timedelta(hours=1)).isoformat()),
    )
    promised = (clock() + timedelta(days=3)).date()
    resp = await api.post(
        "/v1/cases/E-2/events", {"type": "promise_to_pay", "promised_date": promised.isoformat()}
    )
    assert resp.body["state"] == "paused"
    await pump_once(runtime)
    await drain(runtime)
    got = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    # Five days of pause is longer than the preset's 48 h maximum deferral: the reminder is dropped
    # with the reason, not stacked up to go out when the pause ends (compliance §6.1).
    assert got["state"] == "expired"
    assert got["state_reason"].startswith("defer.max_exceeded: hold.paused")
    entry = [h for h in got["history"] if h["kind"] == "expired"][0]["data"]
    assert (entry["preset"], entry["preset_version"]) == ("TEST-OPEN", 2)
    assert (promised + timedelta(days=2)).isoformat() in entry["reason"]

    # A promise for today pauses for less than the maximum: the next reminder waits for it.
    today = clock().date()
    await api.post(
        "/v1/cases/E-2/events", {"type": "promise_to_pay", "promised_date": today.isoformat()}
    )
    waiting = await api.post("/v1/reminders", reminder("E-2", "sms", key="after-promise"))
    await drain(runtime)
    got = (await api.get(f"/v1/messages/{waiting.body['id']}")).body
    assert got["state"] == "deferred" and got["state_reason"].startswith("hold.paused")
    assert got["next_attempt_at"].startswith((today + timedelta(days=2)).isoformat())


async def test_full_payment_closes_the_case_and_release_reopens_it(
    api: ApiClient, runtime: Any
) -> None:
    await api.put("/v1/cases/E-3", case_body())
    paid = await api.post("/v1/cases/E-3/events", {"type": "payment_received", "amount": "420.50"})
    assert (paid.body["state"], paid.body["state_reason"]) == ("closed", "paid")
    accepted = await api.post("/v1/reminders", reminder("E-3", "sms"))
    await drain(runtime)
    assert (await api.get(f"/v1/messages/{accepted.body['id']}")).body["state"] == "suppressed"
    assert (await api.post("/v1/cases/E-3/events", {"type": "dispute"})).status == 409
    released = await api.post(
        "/v1/cases/E-3/events", {"type": "release", "note": "payment reversed"}
    )
    assert released.body["state"] == "active"
    again = await api.post("/v1/reminders", reminder("E-3", "sms", key="again"))
    await drain(runtime)
    assert (await api.get(f"/v1/messages/{again.body['id']}")).body["state"] == "sent"


async def test_partial_payment_lowers_the_balance_in_later_messages(
    api: ApiClient, runtime: Any
) -> None:
    await api.put("/v1/cases/E-4", case_body(amount="420.50"))
    resp = await api.post(
        "/v1/cases/E-4/events", {"type": "payment_received", "amount": "100.00", "full": False}
    )
    assert resp.body["state"] == "active"
    accepted = await api.post("/v1/reminders", reminder("E-4", "sms"))
    await drain(runtime)
    body = (await api.get(f"/v1/messages/{accepted.body['id']}")).body["rendered"]["body"]
    assert "$320.50" in body


@pytest.mark.parametrize(
    "body",
    [
        {"type": "promise_to_pay"},
        {"type": "hold"},
        {"type": "hold", "hold": "vacation"},
        {"type": "close"},
        {"type": "dispute", "hold": "dispute"},
        {"type": "explode"},
        {"type": "payment_received", "amount": "-5"},
    ],
)
async def test_bad_events_are_422_and_change_nothing(api: ApiClient, body: dict[str, Any]) -> None:
    await api.put("/v1/cases/E-5", case_body())
    resp = await api.post("/v1/cases/E-5/events", body)
    assert resp.status == 422, resp.body
    assert (await api.get("/v1/cases/E-5")).body["state"] == "active"


async def test_events_need_the_cases_write_scope(api: ApiClient) -> None:
    from gateway.setup import create_key

    reader = await create_key(api.settings, scopes=["cases:read"], name="r")
    await api.put("/v1/cases/E-6", case_body())
    assert (await api.post("/v1/cases/E-6/events", {"type": "dispute"}, key=reader)).status == 403
    assert (await api.post("/v1/cases/E-404/events", {"type": "dispute"})).status == 404
