"""The scheduler's pump for cadences: release due steps, skip and stop with the reasons.

Each tick finds runs with a pending step due (`cadence_steps.due_at`, in the database: a Redis
flush loses nothing), in chunks, and brings each up to date with its plan: steps whose message
went out become `sent`, those whose message never will become `skipped`; a stop condition stops
the run; a due step is skipped (why) or released. Releasing creates the step's message through
intake, under the key that started the run and an idempotency key of the run and step, so a step
released twice (a crash between intake's commit and ours) is still one message. The message then
meets the contact policy in dispatch like any reminder. Later steps' due times are stored again
from the plan: a step the policy deferred moves the ones after it. Steps already sent whose
message failed on its channel fall back (`gateway.services.cadence_fallback`) in the same pass.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import structlog

from gateway.runtime import Runtime
from gateway.schemas import ReminderIn
from gateway.services import cadence_events, cadence_fallback, intake
from gateway.services.cadence_state import RunState, load
from gateway.store import cadence_runs as store
from gateway.store import keys as key_store
from gateway.store import timeline
from scheduler.cadence import Channel

log = structlog.get_logger()

CHUNK = 200
# How long after a released step's message is next tried the pump asks whether it went out.
RECHECK = timedelta(seconds=60)


async def release_due(rt: Runtime) -> int:
    """Bring every run with a due step up to date; return how many steps were released."""
    released = 0
    seen: set[int] = set()
    while True:
        now = rt.clock()
        async with rt.engine.connect() as conn:
            run_ids = await store.due_runs(conn, now, CHUNK, seen)
        if not run_ids:
            return released
        # A run is looked at once a tick: one whose next step is due again at once waits.
        seen.update(run_ids)
        released += await advance(rt, run_ids, now)
        if len(run_ids) < CHUNK:
            return released


async def advance(rt: Runtime, run_ids: list[int], now: datetime) -> int:
    """Apply the plan of each run; release its due step. Returns the steps released."""
    releases: list[tuple[RunState, int]] = []
    fallbacks: list[cadence_fallback.Due] = []
    async with rt.engine.begin() as conn:
        states = await load(conn, rt.cadences, await store.runs(conn, run_ids), now)
        entries: list[dict[str, Any]] = []
        for state in states:
            if state.run.state != store.ACTIVE:
                continue
            watch = cadence_fallback.watch(state, now, RECHECK)
            release = await apply_plan(conn, state, now, entries, watch.checks)
            fallbacks.extend(watch.due)
            # A step falling back now comes before any later one: that waits for the next tick,
            # which counts it from the fallback.
            if release is not None and not watch.due:
                releases.append((state, release))
        tenants = {s.case.id: s.run.tenant for s in states}
        await cadence_events.record(conn, tenants, entries, now)
    await cadence_fallback.make(rt, fallbacks, now)
    if not releases:
        return 0
    return await _release(rt, releases, now)


async def apply_plan(
    conn: Any,
    state: RunState,
    now: datetime,
    entries: list[dict[str, Any]],
    watched: dict[int, datetime],
) -> int | None:
    """Write what the plan says of one run; return the index of the step to release, if any.
    `watched`: when to look again at done steps escalation still watches (by index). Also what
    a case change does to its run at once (`gateway.services.cadence_react`)."""
    run, case = state.run, state.case
    for row, record in zip(state.steps, state.records, strict=True):
        if row.state == "released" and record.state in ("sent", "skipped"):
            await store.update_step(
                conn,
                row.id,
                state=record.state,
                sent_at=record.sent_at,
                reason=record.reason,
                updated_at=now,
            )
            if record.state == "skipped":
                entries.append(
                    _entry(case.id, "cadence_step_skipped", now, run, row, record.reason)
                )
    planned = state.plan
    if planned is None:
        reason = f"cadence {run.cadence!r} is no longer defined as it was when the run started"
        cancelled = await store.end(conn, run.id, "stopped", reason, now)
        entries.append(
            cadence_events.ended(case.id, "cadence_stopped", now, run, reason, cancelled)
        )
        return None
    if planned.stop is not None:
        cancelled = await store.end(conn, run.id, "stopped", planned.stop, now)
        entries.append(
            cadence_events.ended(case.id, "cadence_stopped", now, run, planned.stop, cancelled)
        )
        return None
    skipped = dict(planned.skip)
    for row, record, view in zip(state.steps, state.records, planned.steps, strict=True):
        if row.idx in skipped:
            await store.update_step(
                conn,
                row.id,
                state="skipped",
                reason=skipped[row.idx][:256],
                check_at=None,
                updated_at=now,
            )
            entries.append(_entry(case.id, "cadence_step_skipped", now, run, row, skipped[row.idx]))
            continue
        due, check = row.due_at, watched.get(row.idx)
        if view.state == "pending":
            due = check = view.due
        elif record.state == "released":
            check = max(record.expected_at or now, now) + RECHECK
        if (due, check) != (row.due_at, row.check_at):
            await store.update_step(conn, row.id, due_at=due, check_at=check, updated_at=now)
    if planned.finished and not watched:
        await store.end(conn, run.id, "finished", "every step is done", now)
        entries.append(
            cadence_events.ended(case.id, "cadence_finished", now, run, "every step is done", [])
        )
    return planned.release


async def _release(rt: Runtime, releases: list[tuple[RunState, int]], now: datetime) -> int:
    """Create the released steps' messages through intake (one call per key), then mark them."""
    by_key: dict[int, list[tuple[RunState, int]]] = defaultdict(list)
    for state, index in releases:
        by_key[state.run.api_key_id].append((state, index))
    async with rt.engine.connect() as conn:
        keys = await key_store.by_ids(conn, by_key)
    outcomes: list[tuple[RunState, int, intake.ItemResult]] = []
    for key_id, items in by_key.items():
        results = await intake.accept(rt, keys[key_id], [_reminder(s, i) for s, i in items])
        outcomes.extend((s, i, r) for (s, i), r in zip(items, results, strict=True))
    released = 0
    async with rt.engine.begin() as conn:
        entries = []
        for state, index, result in outcomes:
            row, run = state.steps[index], state.run
            if result.status == "rejected":
                assert result.error is not None
                why = f"rejected by intake: {result.error['code']}: {result.error['message']}"
                if await store.update_step(
                    conn,
                    row.id,
                    only_if=["pending"],
                    state="skipped",
                    reason=why[:256],
                    check_at=None,
                    updated_at=now,
                ):
                    entries.append(
                        _entry(state.case.id, "cadence_step_skipped", now, run, row, why)
                    )
                continue
            via = _via(state, index)
            if await store.update_step(
                conn,
                row.id,
                only_if=["pending"],
                state="released",
                message_id=result.id,
                check_at=now + RECHECK,
                updated_at=now,
                **({"reason": via[2][:256]} if via else {}),
            ):
                released += 1
                entries.append(
                    _entry(
                        state.case.id,
                        "cadence_step_released",
                        now,
                        run,
                        row,
                        via[2] if via else "due",
                        message_id=result.id,
                        **({"channel": via[0], "template": via[1]} if via else {}),
                    )
                )
        tenants = {s.case.id: s.run.tenant for s, _, _ in outcomes}
        await cadence_events.record(conn, tenants, entries, now)
    if released:
        log.info("cadence_steps_released", steps=released)
    return released


def _via(state: RunState, index: int) -> tuple[Channel, str, str] | None:
    """(channel, template, why) of the fallback the released step goes by, if it does."""
    planned = state.plan
    if planned is None or planned.release != index or planned.via is None:
        return None
    return planned.via.channel, planned.via.template, planned.via_reason or "fallback"


def _reminder(state: RunState, index: int) -> ReminderIn:
    row = state.steps[index]
    channel, template, _ = _via(state, index) or (row.channel, row.template, None)
    return ReminderIn(
        case_ref=state.case.case_ref,
        template=template,
        channel=channel,
        idempotency_key=f"cadence:{state.run.id}:{index}",
        data={"cadence": state.run.cadence, "step": row.name},
    )


def _entry(
    case_id: int,
    kind: str,
    now: datetime,
    run: Any,
    row: Any,
    reason: str | None,
    message_id: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """A step's entry; `detail` adds to (or, for a fallback's channel and template, replaces)
    the step's own fields."""
    data = {
        "cadence": run.cadence,
        "run": run.id,
        "step": row.name,
        "channel": row.channel,
        "template": row.template,
        "reason": reason,
        **detail,
    }
    return timeline.entry(case_id, kind, now, message_id=message_id, **data)
