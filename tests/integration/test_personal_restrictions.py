"""The debtor's own restrictions (hours, days, channels) through the API: stored on the case,
applied by the policy, explained by /v1/policy/evaluate, and re-applied to waiting messages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import at
from tests.support import ApiClient, case_body, drain, reminder


def ny_debtor(**extra: Any) -> dict[str, Any]:
    body = case_body(preset="US-RegF", phone="+12125550123", email="jane@example.com")
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
