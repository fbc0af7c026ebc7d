"""Running a cadence on a case: start (or replace) it, stop it, show where it stands.

A run is a row and each of its steps a row with its due time; the scheduler's pump releases due
steps (`gateway.services.cadence_release`). Starting, replacing and stopping each write a
timeline entry with the reason. The same PUT body again changes nothing and answers the same.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from gateway.errors import NotFound
from gateway.runtime import Runtime
from gateway.schemas import (
    CadenceRunFallbackOut,
    CadenceRunIn,
    CadenceRunOut,
    CadenceRunStepOut,
)
from gateway.services import cadence_events
from gateway.services import cadences as cadence_service
from gateway.services.cadence_state import RunState, facts, load
from gateway.store import cadence_runs as store
from gateway.store import cases as case_store
from gateway.store import timeline
from gateway.store.keys import ApiKey
from scheduler.cadence_plan import StepRecord
from scheduler.cadence_plan import plan as plan_of


async def start(rt: Runtime, key: ApiKey, case_ref: str, body: CadenceRunIn) -> CadenceRunOut:
    """Start `body.cadence` on the case, replacing (stopping) a different one running."""
    try:
        return await _start(rt, key, case_ref, body)
    except IntegrityError:
        # Another request started a run on this case between our read and our insert (the one
        # active run per case is a unique index): the second pass sees it.
        return await _start(rt, key, case_ref, body)


async def _start(rt: Runtime, key: ApiKey, case_ref: str, body: CadenceRunIn) -> CadenceRunOut:
    cadence = cadence_service.get(rt, body.cadence)
    now = rt.clock()
    request = {"cadence": body.cadence, "start": body.start.isoformat() if body.start else None}
    actor = f"key:{key.name}"
    async with rt.engine.begin() as conn:
        case = await case_store.get(conn, key.tenant, case_ref)
        if case is None:
            raise NotFound(f"no case {case_ref!r}", code="unknown_case")
        running = await store.active(conn, case.id)
        if running is not None and running.request == request:
            [state] = await load(conn, rt.cadences, [running], now)
            return view(case_ref, state)
        entries = []
        if running is not None:
            reason = f"replaced by cadence {cadence.name!r} ({actor})"
            cancelled = await store.end(conn, running.id, "stopped", reason, now)
            entries.append(
                cadence_events.ended(
                    case.id, "cadence_stopped", now, running, reason, cancelled, actor
                )
            )
        start_at = body.start or now
        planned = plan_of(
            cadence,
            facts(case, ()),
            start_at,
            [StepRecord()] * len(cadence.steps),
            now,
        )
        run_id = await store.insert(
            conn,
            {
                "tenant": key.tenant,
                "case_id": case.id,
                "cadence": cadence.name,
                "state": store.ACTIVE,
                "start_at": start_at,
                "request": request,
                "api_key_id": key.id,
                "actor": actor,
                "created_at": now,
                "updated_at": now,
            },
            [
                {
                    "idx": i,
                    "name": step.name,
                    "channel": step.channel,
                    "template": step.template,
                    "state": "pending",
                    "due_at": planned.steps[i].due,
                    "check_at": planned.steps[i].due,
                    "updated_at": now,
                }
                for i, step in enumerate(cadence.steps)
            ],
        )
        entries.append(
            timeline.entry(
                case.id,
                "cadence_started",
                now,
                actor=actor,
                cadence=cadence.name,
                run=run_id,
                start=start_at.isoformat(),
                replaced=running.cadence if running is not None else None,
                first_due=planned.steps[0].due.isoformat() if planned.steps[0].due else None,
            )
        )
        await cadence_events.record(conn, {case.id: key.tenant}, entries, now)
        [state] = await load(conn, rt.cadences, await store.runs(conn, [run_id]), now)
    return view(case_ref, state)


async def stop(rt: Runtime, key: ApiKey, case_ref: str) -> CadenceRunOut:
    """Stop the case's running cadence: its pending steps are cancelled, with why."""
    now = rt.clock()
    actor = f"key:{key.name}"
    async with rt.engine.begin() as conn:
        case = await case_store.get(conn, key.tenant, case_ref)
        if case is None:
            raise NotFound(f"no case {case_ref!r}", code="unknown_case")
        running = await store.active(conn, case.id)
        if running is None:
            raise NotFound(f"no cadence is running on case {case_ref!r}", code="no_cadence")
        reason = f"stopped by {actor}"
        cancelled = await store.end(conn, running.id, "stopped", reason, now)
        stopped = [
            cadence_events.ended(case.id, "cadence_stopped", now, running, reason, cancelled, actor)
        ]
        await cadence_events.record(conn, {case.id: key.tenant}, stopped, now)
        [state] = await load(conn, rt.cadences, await store.runs(conn, [running.id]), now)
    return view(case_ref, state)


async def read(rt: Runtime, tenant: str, case_ref: str) -> CadenceRunOut:
    """The case's running cadence (else the last one that ran), each step with its state."""
    now = rt.clock()
    async with rt.engine.connect() as conn:
        case = await case_store.get(conn, tenant, case_ref)
        if case is None:
            raise NotFound(f"no case {case_ref!r}", code="unknown_case")
        run = await store.latest(conn, case.id)
        if run is None:
            raise NotFound(f"no cadence has run on case {case_ref!r}", code="no_cadence")
        [state] = await load(conn, rt.cadences, [run], now)
    return view(case_ref, state)


def view(case_ref: str, state: RunState) -> CadenceRunOut:
    run = state.run
    steps = []
    for i, row in enumerate(state.steps):
        record = state.records[i]
        # What happened is the record's (what its message became); the due time is the row's,
        # the one the pump acts on and moves as the steps before it go out.
        steps.append(
            CadenceRunStepOut(
                name=row.name,
                channel=row.channel,
                template=row.template,
                state=record.state,
                due_at=row.due_at,
                reason=record.reason,
                message_id=row.message_id,
                sent_at=record.sent_at,
                fallbacks=_fallbacks(state, i),
            )
        )
    return CadenceRunOut(
        case_ref=case_ref,
        cadence=run.cadence,
        state=run.state,
        start=run.start_at,
        created_at=run.created_at,
        ended_at=run.ended_at,
        end_reason=run.end_reason,
        steps=steps,
    )


def _fallbacks(state: RunState, index: int) -> list[CadenceRunFallbackOut]:
    """The fallbacks made for step `index`, each with what its message became."""
    made, tried = state.fallbacks[index], state.attempts[index][1:]
    return [
        CadenceRunFallbackOut(
            attempt=row.attempt,
            channel=row.channel,
            template=row.template,
            reason=row.reason,
            replaces=row.replaces,
            message_id=row.message_id,
            state=attempt.state or "rejected",
            state_reason=attempt.reason if attempt.state else row.rejected,
            sent_at=attempt.sent_at,
            created_at=row.created_at,
        )
        for row, attempt in zip(made, tried, strict=True)
    ]
