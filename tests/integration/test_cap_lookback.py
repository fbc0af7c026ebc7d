"""A cap longer than a month still sees the touch that started it: the dispatcher reads as much
of a debtor's history as the longest cap of any loaded preset needs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from scheduler.caps import lookback
from tests.conftest import at
from tests.support import ApiClient, case_body, drain, reminder


def test_the_lookback_is_the_longest_cap_window(runtime: Any) -> None:
    assert runtime.cap_lookback == lookback(runtime.cap_policies.values())
    assert runtime.cap_lookback == timedelta(days=45)  # TEST-LETTERS-45 among the test presets


async def test_a_letter_40_days_after_the_last_waits_for_the_45_day_interval(
    api: ApiClient, runtime: Any, clock: Any
) -> None:
    clock.set(at("2026-10-01T10:00:00+00:00"))
    await api.put("/v1/cases/L-45", case_body(preset="TEST-LETTERS-45"))
    first = await api.post("/v1/reminders", reminder("L-45", "letter", key="first"))
    await drain(runtime)
    assert (await api.get(f"/v1/messages/{first.body['id']}")).body["state"] in (
        "sent",
        "delivered",
    )
    clock.advance(days=40)
    second = await api.post("/v1/reminders", reminder("L-45", "letter", key="second"))
    await drain(runtime)
    got = (await api.get(f"/v1/messages/{second.body['id']}")).body
    # Five more days is past the 48 h maximum deferral: dropped with the cap named.
    assert got["state"] == "expired", got["state_reason"]
    assert "cap.letter" in got["state_reason"]
