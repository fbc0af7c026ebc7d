"""A cadence's steps reach upstream as signed `cadence.step` webhook events, written in the
transaction of each step: started, released (with the message it created), stopped."""

from __future__ import annotations

from typing import Any

from gateway.services.due_work import DueWork
from gateway.services.webhook_delivery import Deliverer
from tests.conftest import at
from tests.support import ApiClient, case_body, drain
from tests.webhook_receiver import Receiver


async def _deliver(runtime: Any) -> None:
    deliver = Deliverer(runtime)
    try:
        while await deliver():
            pass
    finally:
        await deliver.close()


async def test_a_cadences_steps_are_told_to_upstream_signed(
    api: ApiClient, runtime: Any, clock: Any, smtp_server: Any
) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        hook = await api.post("/v1/webhooks", {"url": receiver.url, "events": ["cadence.step"]})
        assert hook.status == 201, hook.body
        receiver.secret = hook.body["secret"]
        clock.set(at("2026-10-02T15:00:00+00:00"))  # DPD 1 of case_body's debt
        await api.put("/v1/cases/CW-1", case_body())
        await api.put("/v1/cases/CW-1/cadence", {"cadence": "first-party-card"})
        await DueWork(runtime).pump()
        await drain(runtime)
        await api.delete("/v1/cases/CW-1/cadence")
        await _deliver(runtime)
    finally:
        await receiver.stop()
    assert receiver.refused == []
    events = receiver.of_type("cadence.step")
    kinds = [e["data"]["kind"] for e in events]
    assert kinds == ["started", "step_released", "stopped"], kinds
    released = events[1]["data"]
    assert released["cadence"] == "first-party-card" and released["step"] == "dpd1-sms"
    assert released["message_id"] and released["channel"] == "sms"
    assert "+1415" not in repr(events)  # no personal data
