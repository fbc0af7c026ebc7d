"""Provider rate limits applied by the dispatcher: a backlog flows at the provider's rate."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway.settings import Settings
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
