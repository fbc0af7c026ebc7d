"""What a change of a case's state does to its running cadence, in the transaction of the change
(`gateway.services.case_events.change_state` calls it), not at the pump's next look at the run —
which, for a step due in days, would be days later.

The run is brought up to date with its plan (`scheduler.cadence_plan`) over the new state, as the
pump would do: a stop condition (paid, closed, hold, ceased) stops it at once, every pending step
cancelled with the reason; a pause (a promise to pay) moves its pending steps past the pause's
end; a release brings them back. Nothing is released here — a step due now is the pump's at its
next tick — so the change's transaction writes rows and timeline entries only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.services import cadence_events, cadence_fallback
from gateway.services.cadence_release import RECHECK, apply_plan
from gateway.services.cadence_state import load
from gateway.store import cadence_runs as store
from scheduler.cadence import Cadence


async def react(
    conn: AsyncConnection, cadences: Mapping[str, Cadence], case_id: int, now: datetime
) -> None:
    """Apply the case's new state (already written in this transaction) to its running
    cadence, if it has one."""
    run = await store.active(conn, case_id)
    if run is None:
        return
    [state] = await load(conn, cadences, [run], now)
    entries: list[dict[str, Any]] = []
    # Steps escalation still watches stay watched; a fallback now due is made by the pump's next
    # tick (its check time is now), outside this transaction.
    watch = cadence_fallback.watch(state, now, RECHECK)
    await apply_plan(conn, state, now, entries, watch.checks)
    await cadence_events.record(conn, {case_id: run.tenant}, entries, now)
