"""The end of a case's pause, found by the scheduler's leader each tick (`due_work.DueWork`).

A paused case whose `state_until` is past was only treated as active lazily, by the contact
policy, and nothing said the promise was broken. Here each such case, in chunks, goes back to
`active` through `case_events.change_state` (so its waiting messages are re-decided and its
cadence resumes at its current step, in the same transaction), with a timeline entry and a
`case.state_changed` event: `promise_broken` when the pause was a promise to pay and no payment
came (a payment in full would have closed the case, which is then not paused), `pause_ended`
for any other pause (the debtor said they already paid, a hardship, …).
"""

from __future__ import annotations

import structlog

from gateway.runtime import Runtime
from gateway.services import case_events, outbound
from gateway.store import cases as case_store
from gateway.store import timeline

log = structlog.get_logger()

CHUNK = 200
PROMISE = "promise_to_pay"


async def end_due(rt: Runtime) -> int:
    """Resume every case whose pause is over; return how many."""
    ended = broken = 0
    while True:
        now = rt.clock()
        due: list[tuple[str, str]] = []
        async with rt.engine.begin() as conn:
            cases = await case_store.pauses_ended(conn, now, CHUNK)
            for case in cases:
                promise = case.state_reason == PROMISE
                changed = await case_events.change_state(
                    conn,
                    case,
                    case_events.Change("release"),
                    now=now,
                    actor=timeline.SYSTEM,
                    kind="promise_broken" if promise else "pause_ended",
                    cadences=rt.cadences,
                    paused_for=case.state_reason,
                    paused_until=case.state_until.isoformat(),
                )
                due.extend(changed.due)
                broken += promise
        await outbound.enqueue(rt, due)
        ended += len(cases)
        if len(cases) < CHUNK:
            if ended:
                log.info("pauses_ended", cases=ended, promises_broken=broken)
            return ended
