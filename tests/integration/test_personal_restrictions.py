"""The debtor's own restrictions (hours, days, channels) through the API: stored on the case,
applied by the policy, explained by /v1/policy/evaluate, and re-applied to waiting messages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import at
from tests.support import ApiClient, case_body, drain, reminder, sms_reply

PHONE = "+12125550123"  # the New York debtor's mobile


def ny_debtor(**extra: Any) -> dict[str, Any]:
    body = case_body(preset="US-RegF", phone=PHONE, email="jane@example.com")
    body["debtor"]["timezone"] = "America/New_York"
    body["debtor"]["postal_address"] = {
        "lines": ["1 Main St", "Albany, NY 12207"],
        "country": "US",
        "postal_code": "12207",
    }
    return {**body, **extra}


async def test_hours_and_channels_the_debtor_asked_for(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(at("2026-11-24T10:00:00-05:00"))
    evenings = {"hours": {"start": "18:00", "end": "20:00"}, "note": "works days"}
    case = await api.put("/v1/cases/P-1", ny_debtor(restrictions=evenings))
    assert case.status == 201 and case.body["restrictions"] == evenings

    asked = await api.post("/v1/policy/evaluate", {"case_ref": "P-1", "channel": "sms"})
    assert (asked.body["decision"], asked.body["rule"]) == ("defer", "personal.hours")
    assert at(asked.body["until"]) == at("2026-11-24T18:00:00-05:00")

    waiting = await api.post("/v1/reminders", reminder("P-1", "sms"))
    await drain(runtime)
    got = (await api.get(f"/v1/messages/{waiting.body['id']}")).body
    assert got["state"] == "deferred" and got["waiting"]["rule"] == "personal.hours"

    # "Email me instead": the waiting SMS is re-decided at once and dropped; email goes.
    only_email = {"channels": ["email", "letter"]}
    updated = await api.put("/v1/cases/P-1", ny_debtor(restrictions=only_email))
    assert updated.body["restrictions"] == only_email
    await drain(runtime)
    got = (await api.get(f"/v1/messages/{waiting.body['id']}")).body
    assert got["state"] == "suppressed" and got["state_reason"].startswith("personal.channel")
    entries = (await api.get("/v1/cases/P-1/timeline")).body["entries"]
    assert [e["data"].get("restrictions") for e in entries if e["kind"] == "case_updated"] == [
        only_email
    ]

    # A PUT without restrictions keeps them; an empty object clears them.
    kept = await api.put("/v1/cases/P-1", ny_debtor())
    assert kept.body["restrictions"] == only_email
    cleared = await api.put("/v1/cases/P-1", ny_debtor(restrictions={}))
    assert cleared.body["restrictions"] is None
    allowed = await api.post("/v1/policy/evaluate", {"case_ref": "P-1", "channel": "sms"})
    assert allowed.body["decision"] == "allow"


@pytest.mark.parametrize(
    "restrictions",
    [
        {"hours": {"start": "20:00", "end": "18:00"}},
        {"hours": {"start": "8am", "end": "18:00"}},
        {"days": ["monday"]},
        {"days": []},
        {"channels": ["fax"]},
        {"channels": []},
        {"hours": {"start": "08:00"}},
        {"mood": "grumpy"},
    ],
)
async def test_bad_restrictions_are_refused_and_change_nothing(
    api: ApiClient, restrictions: dict[str, Any]
) -> None:
    await api.put("/v1/cases/P-2", ny_debtor())
    resp = await api.put("/v1/cases/P-2", ny_debtor(restrictions=restrictions))
    assert resp.status == 422 and resp.body["error"]["code"] == "validation_failed"
    assert (await api.get("/v1/cases/P-2")).body["restrictions"] is None


async def test_a_reply_stating_hours_or_a_channel_becomes_the_case_s_restrictions(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    clock.set(at("2026-11-24T10:00:00-05:00"))
    await api.put("/v1/cases/P-3", ny_debtor())
    pending = await api.post("/v1/reminders", reminder("P-3", "sms"))  # queued, not yet sent

    assert (await sms_reply(api, "Not before noon please", phone=PHONE))[
        "category"
    ] == "time_preference"
    case = (await api.get("/v1/cases/P-3")).body
    assert case["restrictions"] == {"hours": {"start": "12:00", "end": "24:00"}}
    effects = [
        e["data"]
        for e in (await api.get("/v1/cases/P-3/timeline")).body["entries"]
        if e["kind"] == "reply_effect" and e["data"].get("effect") == "restrictions"
    ]
    assert effects[-1]["category"] == "time_preference" and effects[-1]["stated"]
    await drain(runtime)  # the waiting reminder was re-decided at once
    got = (await api.get(f"/v1/messages/{pending.body['id']}")).body
    assert got["state"] == "deferred" and got["waiting"]["rule"] == "personal.hours"
    assert at(got["next_attempt_at"]) == at("2026-11-24T12:00:00-05:00")

    # "Email me instead" keeps the hours and adds the channel: the SMS is dropped.
    await sms_reply(api, "email me instead", phone=PHONE)
    case = (await api.get("/v1/cases/P-3")).body
    assert case["restrictions"] == {
        "hours": {"start": "12:00", "end": "24:00"},
        "channels": ["email"],
    }
    await drain(runtime)
    got = (await api.get(f"/v1/messages/{pending.body['id']}")).body
    assert got["state"] == "suppressed" and got["state_reason"].startswith("personal.channel")


async def test_a_preference_that_cannot_be_read_is_left_to_a_person(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(at("2026-11-24T10:00:00-05:00"))
    await api.put("/v1/cases/P-4", ny_debtor())
    stored = await sms_reply(api, "I work nights", phone=PHONE)
    assert stored["category"] == "time_preference"
    assert (await api.get("/v1/cases/P-4")).body["restrictions"] is None
    entries = (await api.get("/v1/cases/P-4/timeline")).body["entries"]
    assert any(e["data"].get("effect") == "restrictions_unread" for e in entries)
