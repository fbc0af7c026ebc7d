"""Provider rate limits applied by the dispatcher: a backlog flows at the provider's rate."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway.services.due_work import pump_once
from gateway.settings import Settings
from tests.conftest import at
from tests.support import ApiClient, case_body, drain, reminder, states


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(rate_limits="sandbox=10/s:5", rate_limit_max_wait_s=1.0)


async def test_a_backlog_flows_at_the_rate_and_the_rest_waits_in_the_database(
    api: ApiClient, runtime: Any
) -> None:
    for i in range(30):
        await api.put(f"/v1/cases/RL-{i}", case_body(phone=f"+1415555{i + 100:04d}", email=None))
    # One batch, so one job sends all thirty concurrently and they compete for tokens.
    items = [reminder(f"RL-{i}", "sms") for i in range(30)]
    ids = [
        r["id"] for r in (await api.post("/v1/reminders/batch", {"items": items})).body["results"]
    ]
    started = time.monotonic()
    await drain(runtime)
    elapsed = time.monotonic() - started
    got = await states(runtime, ids)
    sent = [i for i, s in got.items() if s in ("sent", "delivered")]
    waiting = [i for i, s in got.items() if s == "retry_wait"]
    # Burst 5 at once, then 10/s; a worker waits at most 1 s for a token, the rest go back to the
    # database to wait their turn rather than bursting later.
    assert 5 <= len(sent) <= 5 + 10 * elapsed + 1
    assert len(sent) + len(waiting) == 30 and waiting
    reasons = {(await api.get(f"/v1/messages/{i}")).body["state_reason"] for i in waiting}
    assert reasons == {"rate limited"}


async def test_nothing_is_handed_over_after_the_window_closes_while_waiting_for_tokens(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    """A batch allowed a second before US-RegF's last instant (20:45 Eastern, 21:00 less the
    margin) waits for rate-limit tokens: whatever has no token by then goes back to be decided
    again — deferred to the next morning — instead of reaching the provider late, and is not
    counted as an attempt."""
    for i in range(30):
        body = case_body(preset="US-RegF", phone=f"+1212555{i + 100:04d}", email=None)
        body["debtor"]["timezone"] = "America/New_York"
        body["debtor"]["postal_address"] = {
            "lines": ["1 Main St", "Albany, NY 12207"],
            "country": "US",
        }
        await api.put(f"/v1/cases/WC-{i}", body)
    clock.set(at("2026-11-24T20:44:59-05:00"))
    items = [reminder(f"WC-{i}", "sms") for i in range(30)]
    ids = [
        r["id"] for r in (await api.post("/v1/reminders/batch", {"items": items})).body["results"]
    ]
    clock.set(at("2026-11-24T20:44:59-05:00"), running=True)
    await drain(runtime)
    deadline = at("2026-11-24T20:45:00-05:00")
    sent, back = [], []
    for message_id in ids:
        got = (await api.get(f"/v1/messages/{message_id}")).body
        if got["state"] in ("sent", "delivered"):
            assert at(got["sent_at"]) < deadline
            sent.append(got)
        else:
            assert got["state"] == "retry_wait", got["state_reason"]
            assert got["attempts"] == 0, "no provider saw it: not an attempt"
            back.append(got)
    # Burst 5 at once, then 10/s for at most the one second left.
    assert 5 <= len(sent) <= 5 + 10 + 1 and back
    assert {m["state_reason"] for m in back} <= {
        "rate limited",
        "the contact window closed before it was sent",
    }
    assert len((await api.get("/v1/sandbox/sms")).body["messages"]) == len(sent)

    clock.set(at("2026-11-24T20:50:00-05:00"))
    await pump_once(runtime)
    await drain(runtime)
    for got in back:
        again = (await api.get(f"/v1/messages/{got['id']}")).body
        assert again["state"] == "deferred" and again["waiting"]["rule"] == "window.sms"
        assert at(again["next_attempt_at"]) == at("2026-11-25T08:00:00-05:00")
