"""The scheduler's second loop: outbound webhook deliveries, while this scheduler is the leader.

One deliverer at a time keeps each case's events in order. The outbox is in the database, so
the loop keeps no state of its own: a new leader (or a restarted one) carries on from there. A
leader that loses Redis keeps its role (the election cannot be re-run without Redis) and goes on
delivering, which needs only the database and the receivers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger()


async def run_deliveries(
    deliver: Callable[[], Awaitable[int]],
    is_leader: Callable[[], bool],
    stop: asyncio.Event,
    *,
    interval_s: float,
) -> None:
    """Call `deliver` (one round; how many rows it attempted) while `is_leader()`: again at once
    after a round that found work, after `interval_s` otherwise."""
    while not stop.is_set():
        attempted = 0
        if is_leader():
            try:
                attempted = await deliver()
            except Exception:  # noqa: BLE001 — a bad round (database restart) must not end the loop
                log.exception("webhook_round_failed")
        if attempted:
            await asyncio.sleep(0)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
