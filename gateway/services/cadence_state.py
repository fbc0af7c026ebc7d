"""Where a case's cadence run stands: its rows read back, what its steps' messages became, and
the plan (`scheduler.cadence_plan`) over them. The API's view and the pump's release both start
here, so what `GET …/cadence` shows is what the pump will do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import cadence_fallbacks as fallback_store
from gateway.store import cadence_runs as store
from scheduler.cadence import Cadence
from scheduler.cadence_fallback import Attempt, reached_at
from scheduler.cadence_plan import Facts, Plan, StepRecord, plan

# A message in one of these states was handed to a provider: its step counts as sent.
SENT = frozenset({"sent", "delivered", "undelivered", "bounced", "returned", "unknown"})
# One in these will never be sent: its step is skipped, with the message's reason.
NOT_SENT = frozenset({"suppressed", "failed", "expired", "cancelled"})


@dataclass(slots=True)
class RunState:
    run: Any
    case: Any
    cadence: Cadence | None
    steps: list[Any]
    records: list[StepRecord]
    # None for a run that ended, or whose cadence is no longer defined.
    plan: Plan | None
    # Per step: the fallbacks made for it (rows of `cadence_fallbacks`), and what each of its
    # messages became — its own first, then its fallbacks' (`scheduler.cadence_fallback`).
    fallbacks: list[list[Any]] = field(default_factory=list)
    attempts: list[list[Attempt]] = field(default_factory=list)


def record(row: Any, message: Mapping[str, Any] | None) -> StepRecord:
    """One step's history: its row, and for a released step what its message became."""
    delivered = message.get("delivered_at") if message else None
    if row.state != "released":
        return StepRecord(row.state, row.sent_at, delivered, None, row.reason)
    if message is None:
        return StepRecord("released")
    if message["state"] in SENT:
        sent = message["sent_at"] or message["attempted_at"]
        # A step that went by its fallback keeps why (`row.reason`).
        return StepRecord("sent", sent, delivered, reason=row.reason)
    if message["state"] in NOT_SENT:
        why = f"message {message['state']}: {message['state_reason'] or 'no reason given'}"
        return StepRecord("skipped", reason=why[:256])
    return StepRecord("released", expected_at=message["next_attempt_at"], reason=row.reason)


def attempt(channel: str, message: Mapping[str, Any] | None) -> Attempt:
    """One of a step's messages as the escalation decision reads it (None: intake refused it)."""
    if message is None:
        return Attempt(channel, None)
    handed = message["state"] in SENT
    return Attempt(
        message["channel"],
        message["state"],
        message["state_reason"],
        (message["sent_at"] or message["attempted_at"]) if handed else None,
        message.get("delivered_at"),
        message["next_attempt_at"],
    )


def _attempts(row: Any, made: Sequence[Any], messages: Mapping[str, Any]) -> list[Attempt]:
    """A step's messages, its own then its fallbacks'; none for a step not released."""
    if not row.message_id and not made:
        return []
    tried = [(row.channel, row.message_id), *((f.channel, f.message_id) for f in made)]
    return [attempt(channel, messages.get(id_) if id_ else None) for channel, id_ in tried]


def facts(case: Any, replies: Sequence[datetime], opted_out: Iterable[str] = ()) -> Facts:
    return Facts(
        state=case.state,
        state_reason=case.state_reason,
        due_date=date.fromisoformat(case.debt["due_date"]),
        replies=tuple(replies),
        paused_until=case.state_until if case.state == "paused" else None,
        opted_out=frozenset(opted_out),
    )


async def load(
    conn: AsyncConnection, cadences: Mapping[str, Cadence], runs: Sequence[Any], now: datetime
) -> list[RunState]:
    """Every run's state and plan at `now` (a few queries for all of them, none per run)."""
    if not runs:
        return []
    steps = await store.steps(conn, [r.id for r in runs])
    fallbacks = await fallback_store.for_runs(conn, [r.id for r in runs])
    messages = await store.messages(
        conn,
        {s.message_id for rows in steps.values() for s in rows if s.message_id}
        | {f.message_id for rows in fallbacks.values() for f in rows if f.message_id},
    )
    cases = await store.cases(conn, {r.case_id for r in runs})
    replies = await store.replies_since(
        conn, {r.case_id for r in runs}, min(r.start_at for r in runs)
    )
    opted_out = await store.opted_out(conn, {r.case_id for r in runs})
    out = []
    for run in runs:
        rows = steps.get(run.id, [])
        made = [fallbacks.get(s.id, []) for s in rows]
        attempts = [_attempts(s, fs, messages) for s, fs in zip(rows, made, strict=True)]
        records = [record(s, messages.get(s.message_id) if s.message_id else None) for s in rows]
        # A step that fell back reached the debtor again: later steps count from then.
        records = [
            replace(r, resent_at=reached_at(tried[1:], now)) if len(tried) > 1 else r
            for r, tried in zip(records, attempts, strict=True)
        ]
        cadence = cadences.get(run.cadence)
        if cadence is not None and [s.name for s in cadence.steps] != [s.name for s in rows]:
            # The cadence was redefined since the run started: its steps are no longer these.
            cadence = None
        case = cases[run.case_id]
        planned = None
        if run.state == store.ACTIVE and cadence is not None:
            known = facts(case, replies.get(case.id, ()), opted_out.get(case.id, ()))
            planned = plan(cadence, known, run.start_at, records, now)
        out.append(RunState(run, case, cadence, rows, records, planned, made, attempts))
    return out
