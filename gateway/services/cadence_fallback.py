"""Escalation on receipts, the pump's side: a cadence step whose message failed on its channel
gets its fallback, a new message through intake like any reminder.

What to do is `scheduler.cadence_fallback.decide`, over what the step's messages became (read
from the database by `cadence_state`: a Redis flush loses nothing). The pump asks it for every
step of a run it brings up to date; a step still watched keeps a `check_at` — the end of its
watch, or when its fallback is next tried — and a failure receipt moves that to now
(`gateway.store.cadence_fallbacks.nudge`), so an `undelivered` SMS falls back on the next tick.

A fallback is created under the key that started the run with an idempotency key of the run,
step and attempt, and stored against the step (unique per step and attempt): a pump that dies
between intake's commit and ours, or runs twice, still makes one message. The message's data
names the cadence, the step, the attempt and the message it replaces; the timeline and the
`cadence.step` webhook event say why (`cadence_step_fallback`). It then meets the contact policy
in dispatch: an opted-out address suppresses it, with the rule, like any message.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from gateway.runtime import Runtime
from gateway.schemas import ReminderIn
from gateway.services import cadence_events, intake
from gateway.services.cadence_state import RunState
from gateway.store import cadence_fallbacks as store
from gateway.store import keys as key_store
from gateway.store import timeline
from scheduler.cadence import Fallback
from scheduler.cadence_fallback import HANDED_OVER, WAITING, decide

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Due:
    """A fallback to make: step `index` of the run, its attempt number, on `link`, and why."""

    state: RunState
    index: int
    attempt: int
    link: Fallback
    why: str
    replaces: str | None


@dataclass(slots=True)
class Watch:
    # Per step index: when the pump should look at it again for its escalation.
    checks: dict[int, datetime]
    due: list[Due]


def watch(state: RunState, now: datetime, recheck: timedelta) -> Watch:
    """What escalation asks of a run at `now`: the steps to look at again (when), and the
    fallbacks to make. A step is watched only until a later one has gone out (or is on its way:
    released, not suppressed)."""
    out = Watch({}, [])
    if state.cadence is None or state.plan is None or state.plan.stop is not None:
        return out  # a run that stops, or whose cadence changed, escalates nothing
    superseded = False
    for index in reversed(range(len(state.steps))):
        row, tried = state.steps[index], state.attempts[index]
        if tried:
            step = state.cadence.steps[index]
            decision = decide(step, tried, now, superseded=superseded, recheck=recheck)
            if decision.fallback is not None and decision.why is not None:
                made = state.fallbacks[index]
                replaces = made[-1].message_id if made else row.message_id
                out.due.append(
                    Due(state, index, len(tried), decision.fallback, decision.why, replaces)
                )
                # Looked at again on the next tick (its fallback is then the one watched), and
                # made then if this tick dies before it is.
                out.checks[index] = now
            elif decision.check_at is not None:
                out.checks[index] = decision.check_at
        # A later step's message that went out, or is on its way, ends the earlier ones' watch.
        superseded = superseded or bool(tried and tried[0].state in HANDED_OVER | WAITING)
    return out


async def make(rt: Runtime, due: list[Due], now: datetime) -> int:
    """Create the fallbacks' messages through intake (one call per key), store each against its
    step and tell it; return how many were made now."""
    if not due:
        return 0
    by_key: dict[int, list[Due]] = defaultdict(list)
    for item in due:
        by_key[item.state.run.api_key_id].append(item)
    async with rt.engine.connect() as conn:
        keys = await key_store.by_ids(conn, by_key)
    outcomes: list[tuple[Due, intake.ItemResult]] = []
    for key_id, items in by_key.items():
        results = await intake.accept(rt, keys[key_id], [_reminder(d) for d in items])
        outcomes.extend(zip(items, results, strict=True))
    async with rt.engine.begin() as conn:
        rows = [_row(d, result, now) for d, result in outcomes]
        written = await store.insert(conn, rows)
        entries = [
            _entry(d, row, now)
            for (d, _), row in zip(outcomes, rows, strict=True)
            if (row["step_id"], row["attempt"]) in written
        ]
        tenants = {d.state.case.id: d.state.run.tenant for d, _ in outcomes}
        await cadence_events.record(conn, tenants, entries, now)
    if entries:
        log.info("cadence_fallbacks_made", fallbacks=len(entries))
    return len(entries)


def _reminder(d: Due) -> ReminderIn:
    run, row = d.state.run, d.state.steps[d.index]
    return ReminderIn(
        case_ref=d.state.case.case_ref,
        template=d.link.template,
        channel=d.link.channel,
        idempotency_key=f"cadence:{run.id}:{d.index}:fallback:{d.attempt}",
        data={
            "cadence": run.cadence,
            "step": row.name,
            "fallback": d.attempt,
            "replaces": d.replaces,
        },
    )


def _row(d: Due, result: intake.ItemResult, now: datetime) -> dict[str, Any]:
    rejected = None
    if result.status == "rejected":
        assert result.error is not None
        rejected = f"rejected by intake: {result.error['code']}: {result.error['message']}"
    return {
        "run_id": d.state.run.id,
        "step_id": d.state.steps[d.index].id,
        "attempt": d.attempt,
        "channel": d.link.channel,
        "template": d.link.template,
        "message_id": result.id if rejected is None else None,
        "replaces": d.replaces,
        "reason": d.why[:256],
        "rejected": rejected[:256] if rejected else None,
        "created_at": now,
    }


def _entry(d: Due, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    run, step = d.state.run, d.state.steps[d.index]
    return timeline.entry(
        d.state.case.id,
        "cadence_step_fallback",
        now,
        message_id=row["message_id"],
        cadence=run.cadence,
        run=run.id,
        step=step.name,
        channel=row["channel"],
        template=row["template"],
        attempt=row["attempt"],
        replaces=row["replaces"],
        reason=d.why,
        rejected=row["rejected"],
    )
