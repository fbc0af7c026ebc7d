"""Contact windows in the debtor's local time, through the API with an injected clock (§6.9 #1
itself is in test_acceptance.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import at
from tests.support import ApiClient, case_body, drain, reminder


def us_debtor() -> dict[str, Any]:
    """A Pacific-time address (Los Angeles) and an Eastern mobile number (New York)."""
    body = case_body(preset="US-RegF", phone="+12125550123", email=None)
    body["debtor"]["postal_address"] = {
        "lines": ["100 Main St", "Los Angeles, CA 90001"],
        "country": "US",
        "postal_code": "90001",
    }
    return body


async def test_letters_have_no_time_window(api: ApiClient, runtime: Any, clock: Any) -> None:
    clock.set(at("2026-11-24T23:30:00-08:00"))
    await api.put("/v1/cases/W-2", us_debtor())
    accepted = await api.post("/v1/reminders", reminder("W-2", "letter"))
    await drain(runtime)
    assert (await api.get(f"/v1/messages/{accepted.body['id']}")).body["state"] == "sent"


async def test_policy_evaluate_explains_when_a_debtor_may_be_contacted(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    await api.put("/v1/cases/W-3", us_debtor())
    evening = await api.post(
        "/v1/policy/evaluate",
        {"case_ref": "W-3", "channel": "sms", "at": "2026-11-24T20:50:00-08:00"},
    )
    assert evening.status == 200
    assert evening.body["decision"] == "defer" and evening.body["rule"] == "window.sms"
    assert at(evening.body["until"]) == at("2026-11-25T11:00:00-05:00")
    assert evening.body["preset"] == "US-RegF"
    assert {"America/New_York", "America/Los_Angeles"} <= set(evening.body["zones"])
    noon = await api.post(
        "/v1/policy/evaluate",
        {"case_ref": "W-3", "channel": "sms", "at": "2026-11-25T12:00:00-05:00"},
    )
    assert noon.body["decision"] == "allow" and noon.body["until"] is None

    # After one SMS, the same debtor's next SMS that day waits for the cap (and nothing is sent).
    clock.set(at("2026-11-25T12:00:00-05:00"))
    await api.post("/v1/reminders", reminder("W-3", "sms"))
    await drain(runtime)
    capped = await api.post(
        "/v1/policy/evaluate",
        {"case_ref": "W-3", "channel": "sms", "at": "2026-11-25T17:00:00-05:00"},
    )
    assert capped.body["decision"] == "defer" and capped.body["rule"] == "cap.sms.rolling_24h"
    assert len((await api.get("/v1/sandbox/sms")).body["messages"]) == 1


async def test_policy_evaluate_bad_input(api: ApiClient) -> None:
    await api.put("/v1/cases/W-4", us_debtor())
    assert (
        await api.post("/v1/policy/evaluate", {"case_ref": "W-404", "channel": "sms"})
    ).status == 404
    naive = await api.post(
        "/v1/policy/evaluate", {"case_ref": "W-4", "channel": "sms", "at": "2026-11-25T12:00:00"}
    )
    assert naive.status == 422
    no_email = await api.post("/v1/policy/evaluate", {"case_ref": "W-4", "channel": "email"})
    assert no_email.status == 422 and no_email.body["error"]["code"] == "no_contact_point"
