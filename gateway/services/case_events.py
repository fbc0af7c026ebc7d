"""Facts about a case (payment, promise, dispute, hold, release, close, cease, pause) and what
they do to the case's state — and so to every message still waiting for it.

They come from upstream (`POST /v1/cases/{ref}/events`) or from the debtor's own reply
(`gateway.services.replies`); both go through `change_state`, in the caller's transaction.

Holds, cessation and closure stop contact; a promise to pay pauses it until two days after the
promised date (compliance §6.6, #12). The waiting messages of the case are made due at once, so
the policy sees the new state before their next attempt and suppresses (or defers) them with the
reason on the timeline, instead of lingering as `deferred` until their old time comes; those of
a case that closed (paid in full, or closed) are cancelled: nothing more goes to it. The case's
running cadence reacts in the same transaction (`cadence_react`): stopped, paused or resumed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import Conflict, NotFound
from gateway.runtime import Runtime
from gateway.schemas import CaseEventIn, CaseEventOut
from gateway.services import cadence_react, message_cancel, outbound, webhook_events
from gateway.states import CaseState
from gateway.store import cases as case_store
from gateway.store import messages as message_store
from gateway.store import timeline
from gateway.store.keys import ApiKey
from gateway.store.tables import messages as M
from scheduler.cadence import Cadence

PROMISE_GRACE = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Change:
    """One fact about a case. `type` is an upstream event type, or `pause` (a reply's pause:
    `until` and `reason`)."""

    type: str
    hold: str | None = None
    reason: str | None = None
    promised_date: date | None = None
    until: datetime | None = None
    amount: Decimal | None = None
    full: bool = True

    @classmethod
    def of(cls, event: CaseEventIn) -> Change:
        return cls(
            event.type,
            hold=event.hold,
            reason=event.reason,
            promised_date=event.promised_date,
            amount=event.amount,
            full=event.full,
        )


@dataclass(frozen=True, slots=True)
class Changed:
    state: str
    state_reason: str | None
    state_until: datetime | None
    previous_state: str
    # The case's waiting messages, made due: the caller enqueues them after commit.
    due: list[tuple[str, str]]
    # Those cancelled instead (the case closed).
    cancelled: list[str]


def promise_until(promised: date) -> datetime:
    """The end of a promise-to-pay pause: two days after the promised date (§6.6 #12)."""
    return datetime.combine(promised, time(0), UTC) + PROMISE_GRACE


def next_state(change: Change, current: Any) -> tuple[CaseState, str | None, datetime | None]:
    """(state, reason, until) after the change; raises Conflict where the change cannot apply."""
    if current.state == CaseState.CLOSED and change.type != "release":
        raise Conflict("the case is closed; release it first", code="case_closed")
    kept = CaseState(current.state), current.state_reason, current.state_until
    match change.type:
        case "payment_received":
            return (CaseState.CLOSED, "paid", None) if change.full else kept
        case "promise_to_pay" | "pause":
            if current.state in (CaseState.HOLD, CaseState.CEASED):
                # A hold outranks a pause: record the fact, keep the hold.
                return kept
            if change.type == "pause":
                assert change.until is not None
                return CaseState.PAUSED, change.reason, change.until
            assert change.promised_date is not None
            return CaseState.PAUSED, "promise_to_pay", promise_until(change.promised_date)
        case "dispute":
            return CaseState.HOLD, "dispute", None
        case "hold":
            return CaseState.HOLD, change.hold, None
        case "cease":
            return CaseState.CEASED, "cease_request", None
        case "close":
            return CaseState.CLOSED, change.reason, None
        case "release":
            return CaseState.ACTIVE, None, None
    raise AssertionError(change.type)


async def change_state(
    conn: AsyncConnection,
    case: Any,
    change: Change,
    *,
    now: datetime,
    actor: str,
    kind: str,
    cadences: Mapping[str, Cadence],
    **detail: Any,
) -> Changed:
    """Apply `change` to `case` (a cases row): its state, the debt after a partial payment,
    every waiting message made due now (cancelled, on a case that closed), and its running
    cadence (`cadences`: the runtime's); one timeline entry `kind` with `detail`. Raises
    Conflict on a closed case (only `release` applies to it)."""
    state, reason, until = next_state(change, case)
    debt = dict(case.debt)
    if change.type == "payment_received" and change.amount is not None and not change.full:
        debt["amount"] = str(max(Decimal(0), Decimal(debt["amount"]) - change.amount))
    await case_store.set_state(conn, case.id, state, reason=reason, until=until, now=now, debt=debt)
    if (state, reason, until) != (case.state, case.state_reason, case.state_until):
        told = webhook_events.case_state_changed(case, state, reason, until, cause=kind)
        await webhook_events.emit(conn, [told], now)
    await timeline.append(
        conn,
        [
            timeline.entry(
                case.id,
                kind,
                now,
                actor=actor,
                **detail,
                state=state,
                state_reason=reason,
                state_until=until.isoformat() if until else None,
                previous_state=case.state,
            )
        ],
    )
    due: list[tuple[str, str]] = []
    cancelled: list[str] = []
    if state == CaseState.CLOSED:
        why = f"case closed ({reason})" if reason else "case closed"
        cancelled = await message_cancel.cancel_case(
            conn, case.id, reason=why, actor=actor, now=now
        )
    else:
        # Waiting messages become due now: their next attempt re-evaluates them against the
        # new state (suppress on hold/cease, defer to the end of a pause).
        due = await message_store.make_due(conn, M.c.case_id == case.id, now)
    await cadence_react.react(conn, cadences, case.id, now)
    return Changed(state, reason, until, case.state, due, cancelled)


async def apply(rt: Runtime, key: ApiKey, case_ref: str, event: CaseEventIn) -> CaseEventOut:
    """An upstream event, in its own transaction."""
    now = rt.clock()
    async with rt.engine.begin() as conn:
        case = await case_store.get(conn, key.tenant, case_ref)
        if case is None:
            raise NotFound(f"no case {case_ref!r}", code="unknown_case")
        changed = await change_state(
            conn,
            case,
            Change.of(event),
            now=now,
            actor=f"key:{key.name}",
            kind=f"event_{event.type}",
            cadences=rt.cadences,
            **event.model_dump(mode="json", exclude_none=True, exclude={"type"}),
        )
    await outbound.enqueue(rt, changed.due)
    return CaseEventOut(
        case_ref=case_ref,
        state=changed.state,
        state_reason=changed.state_reason,
        state_until=changed.state_until,
        pending_reevaluated=len(changed.due) + len(changed.cancelled),
    )
