"""A long closure is a wait, not an expiry: through the API and the dispatcher, with the injected
clock. The maximum deferral counts open contact-window time (scheduler/deferral.py); the pure
cases are in tests/unit/test_deferral.py."""

from __future__ import annotations

from typing import Any

from gateway.services.due_work import pump_once
from tests.conftest import at
from tests.support import ApiClient, case_body, drain, reminder


def uk_debtor() -> dict[str, Any]:
    """A London debtor with a UK mobile under the UK preset."""
    body = case_body(preset="UK-FCA", phone="+447911123456", email=None, currency="GBP")
    body["collector_role"] = "first_party"
    body["debtor"]["postal_address"] = {
        "lines": ["1 Example Road", "London"],
        "country": "GB",
        "postal_code": "SW1A 2AA",
    }
    return body


async def test_a_reminder_accepted_before_a_bank_holiday_weekend_waits_and_then_goes(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    # Saturday 2 May 2026, 18:00 in London: Saturday's window closed at 16:45, Sunday is closed
    # and Monday 4 May is the Early May bank holiday; the window opens on Tuesday at 08:00 BST.
    clock.set(at("2026-05-02T18:00:00+01:00"))
    created = await api.put("/v1/cases/L-1", uk_debtor())
    assert created.status == 201, created.body
    accepted = await api.post("/v1/reminders", reminder("L-1", "sms"))
    await drain(runtime)
    waiting = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert waiting["state"] == "deferred" and waiting["state_reason"].startswith("window.sms")
    assert at(waiting["next_attempt_at"]) == at("2026-05-05T08:00:00+01:00")

    clock.set(at("2026-05-05T07:59:59+01:00"))
    assert await pump_once(runtime) == 0
    clock.set(at("2026-05-05T08:00:00+01:00"))
    assert await pump_once(runtime) == 1
    await drain(runtime)
    sent = (await api.get(f"/v1/messages/{accepted.body['id']}")).body
    assert sent["state"] in ("sent", "delivered"), sent["state_reason"]
    assert at(sent["sent_at"]) == at("2026-05-05T08:00:00+01:00")
    assert len((await api.get("/v1/sandbox/sms")).body["messages"]) == 1


async def test_evaluate_answers_the_next_allowed_instant_and_separately_whether_it_would_expire(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    await api.put("/v1/cases/L-2", uk_debtor())
    christmas = await api.post(
        "/v1/policy/evaluate",
        {"case_ref": "L-2", "channel": "sms", "at": "2026-12-24T21:00:00+00:00"},
    )
    assert christmas.status == 200
    assert (christmas.body["decision"], christmas.body["rule"]) == ("defer", "window.sms")
    assert at(christmas.body["until"]) == at("2026-12-29T08:00:00+00:00")
    assert christmas.body["would_expire"] is False and christmas.body["expiry_reason"] is None

    # CN: 除夕 (Fri 5 Feb 2027) and 春节 day 1 (Sat 6 Feb) are closed; from Thursday 21:00 the
    # next instant is Sunday 08:00 Beijing time, 59 h later but with no open window missed.
    cn = case_body(preset="CN", phone="+8613812345678", email=None, currency="CNY")
    cn["debtor"]["postal_address"] = {"lines": ["朝阳区建国路88号", "北京市"], "country": "CN"}
    assert (await api.put("/v1/cases/L-3", cn)).status == 201
    chuxi = await api.post(
        "/v1/policy/evaluate",
        {"case_ref": "L-3", "channel": "sms", "at": "2027-02-04T21:00:00+08:00"},
    )
    assert (chuxi.body["decision"], chuxi.body["rule"]) == ("defer", "window.sms")
    assert at(chuxi.body["until"]) == at("2027-02-07T08:00:00+08:00")
    assert chuxi.body["would_expire"] is False

    # A promise to pay on Thursday 12 Nov pauses reminders until Saturday 14th 00:00; the window
    # opens at 09:00 that day. From Monday noon that is almost 60 h of open window: a reminder
    # accepted now would expire, and the answer still says when one could go.
    clock.set(at("2026-11-09T12:00:00+00:00"))
    paused = await api.post(
        "/v1/cases/L-2/events", {"type": "promise_to_pay", "promised_date": "2026-11-12"}
    )
    assert paused.body["state"] == "paused"
    held = await api.post(
        "/v1/policy/evaluate",
        {"case_ref": "L-2", "channel": "sms", "at": "2026-11-09T12:00:00+00:00"},
    )
    assert (held.body["decision"], held.body["rule"]) == ("defer", "hold.paused")
    assert at(held.body["until"]) == at("2026-11-14T09:00:00+00:00")
    assert held.body["would_expire"] is True
    assert "48 h maximum deferral" in held.body["expiry_reason"]
    # Nothing was sent or stored by asking.
    assert (await api.get("/v1/sandbox/sms")).body["messages"] == []
