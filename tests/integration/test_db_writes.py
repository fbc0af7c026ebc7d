"""What dispatch asks of the database: round trips per batch, row writes per message, HOT updates.

PostgreSQL is the production database: a batch's statements must not grow with the batch (each
one is a round trip and a parse/plan/execute), and the lifecycle updates of a message must be
heap-only (HOT) where they can, i.e. change no indexed column, so that they add no index entries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from gateway.services.dispatch import dispatch
from tests.support import ApiClient, case_body, reminder


async def _messages(api: ApiClient, prefix: str, n: int) -> list[str]:
    """`n` SMS reminders, each to a debtor of their own (a number and an address each)."""
    for i in range(n):
        body = case_body(phone=f"+1415555{100 + i:04d}", email=f"{prefix.lower()}{i}@example.com")
        await api.put(f"/v1/cases/{prefix}-{i}", body)
    items = [reminder(f"{prefix}-{i}", "sms") for i in range(n)]
    out = await api.post("/v1/reminders/batch", {"items": items})
    return [r["id"] for r in out.body["results"]]


async def _statements_of_dispatch(runtime: Any, ids: list[str]) -> int:
    executed = 0

    def count(*_: Any) -> None:
        nonlocal executed
        executed += 1

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        counts = await dispatch(runtime, ids)
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
    assert counts["sent"] == len(ids), counts
    return executed


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    api: ApiClient, runtime: Any
) -> None:
    await _statements_of_dispatch(runtime, await _messages(api, "W", 1))  # caches the template
    small = await _statements_of_dispatch(runtime, await _messages(api, "S", 3))
    large = await _statements_of_dispatch(runtime, await _messages(api, "L", 30))
    # Locks, history, decisions and outcomes are per batch: thirty debtors cost what three do.
    assert large == small
