"""Upstream facts about a case (payment, promise, dispute, hold, release, close, cease) and what
they do to the case's state — and so to every message still waiting for it.

Holds, cessation and closure stop contact; a promise to pay pauses it until two days after the
promised date (compliance §6.6, #12). The waiting messages of the case are made due at once, so
the policy sees the new state before their next attempt and suppresses (or defers) them with the
reason on the timeline, instead of lingering as `deferred` until their old time comes.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from gateway.api.schemas import CaseEventIn, CaseEventOut
from gateway.bootstrap import Runtime
from gateway.errors import Conflict, NotFound
from gateway.states import WAITING
from gateway.store import cases as case_store
from gateway.store import timeline
from gateway.store.keys import ApiKey
from gateway.store.tables import cases as C
from gateway.store.tables import messages as M

PROMISE_GRACE = timedelta(days=2)


def _new_state(event: CaseEventIn, current: Any) -> tuple[str, str | None, datetime | None]:
    """(state, reason, until) after the event; raises Conflict where the event cannot apply."""
    if current.state == "closed" and event.type != "release":
        raise Conflict("the case is closed; release it first", code="case_closed")
    match event.type:
        case "payment_received":
            if event.full:
                return "closed", "paid", None
            return current.state, current.state_reason, current.state_until
        case "promise_to_pay":
            assert event.promised_date is not None
            until = datetime.combine(event.promised_date, time(0), UTC) + PROMISE_GRACE
            if current.state in ("hold", "ceased"):
                # A hold outranks a promise: record it, keep the hold.
                return current.state, current.state_reason, current.state_until
            return "paused", "promise_to_pay", until
        case "dispute":
            return "hold", "dispute", None
        case "hold":
            return "hold", event.hold, None
        case "cease":
            return "ceased", "cease_request", None
        case "close":
            return "closed", event.reason, None
        case "release":
            return "active", None, None
    raise AssertionError(event.type)


async def apply(rt: Runtime, key: ApiKey, case_ref: str, event: CaseEventIn) -> CaseEventOut:
    now = rt.clock()
    async with rt.engine.begin() as conn:
        case = await case_store.get(conn, key.tenant, case_ref)
        if case is None:
            raise NotFound(f"no case {case_ref!r}", code="unknown_case")
        state, reason, until = _new_state(event, case)
        debt = dict(case.debt)
        if event.type == "payment_received" and event.amount is not None and not event.full:
            debt["amount"] = str(max(Decimal(0), Decimal(debt["amount"]) - event.amount))
        await conn.execute(
            sa.update(C)
            .where(C.c.id == case.id)
            .values(state=state, state_reason=reason, state_until=until, debt=debt, updated_at=now)
        )
        # Waiting messages become due now: their next attempt re-evaluates them against the
        # new state (suppress on hold/close/cease, defer to the end of a pause).
        pending = await conn.execute(
            sa.update(M)
            .where(M.c.case_id == case.id, M.c.state.in_([s.value for s in WAITING]))
            .values(next_attempt_at=now, enqueued_at=None, updated_at=now)
        )
        await timeline.append(
            conn,
            [
                timeline.entry(
                    case.id,
                    f"event_{event.type}",
                    now,
                    actor=f"key:{key.name}",
                    **event.model_dump(mode="json", exclude_none=True, exclude={"type"}),
                    state=state,
                    state_reason=reason,
                    state_until=until.isoformat() if until else None,
                    previous_state=case.state,
                )
            ],
        )
    return CaseEventOut(
        case_ref=case_ref,
        state=state,
        state_reason=reason,
        state_until=until,
        pending_reevaluated=pending.rowcount or 0,
    )
