"""Cancelling waiting messages: one by its id (`DELETE /v1/messages/{id}`), or every waiting
message of a case that closed (`gateway.services.cadence_react`).

Only a message still waiting — accepted, deferred, retrying, never claimed by a worker nor
handed to a provider — can be cancelled: `cancelled` is final, with the reason, a timeline
entry and a `message.state_changed` event in the same transaction. A cadence step whose message
was cancelled is done (skipped, with the message's reason): the pump looks at its run again at
once, so the next step does not wait for the old check time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.errors import Conflict, NotFound
from gateway.runtime import Runtime
from gateway.services import webhook_events
from gateway.states import CLAIMED, WAITING, State
from gateway.store import cadence_runs as cadence_store
from gateway.store import messages as message_store
from gateway.store import timeline
from gateway.store.keys import ApiKey
from gateway.store.tables import messages as M

REASON_MAX = 128  # messages.state_reason


async def cancel(
    conn: AsyncConnection, rows: Sequence[Any], *, reason: str, actor: str, now: datetime
) -> list[str]:
    """Cancel the messages of `rows` (id, case_id, tenant, channel) that are still waiting;
    return the ids cancelled."""
    reason = reason[:REASON_MAX]
    moved = await message_store.transition(
        conn,
        [r.id for r in rows],
        State.CANCELLED,
        now=now,
        from_=WAITING,
        state_reason=reason,
        enqueued_at=None,
    )
    if not moved:
        return []
    done = set(moved)
    cancelled = [r for r in rows if r.id in done]
    await timeline.append(
        conn,
        [
            timeline.entry(
                r.case_id,
                "cancelled",
                now,
                message_id=r.id,
                actor=actor,
                channel=r.channel,
                was=r.state,
                reason=reason,
            )
            for r in cancelled
        ],
    )
    await webhook_events.emit(
        conn, [webhook_events.message_event(r, State.CANCELLED, reason) for r in cancelled], now
    )
    await cadence_store.look_again(conn, moved, now)
    return moved


async def cancel_case(
    conn: AsyncConnection, case_id: int, *, reason: str, actor: str, now: datetime
) -> list[str]:
    """Cancel every waiting message of a case."""
    rows = await message_store.waiting(conn, M.c.case_id == case_id)
    return await cancel(conn, rows, reason=reason, actor=actor, now=now)


async def cancel_one(rt: Runtime, key: ApiKey, message_id: str) -> None:
    """Cancel one message of the key's tenant. Cancelling a cancelled message again changes
    nothing; NotFound for an unknown one, Conflict for one that is no longer waiting."""
    now = rt.clock()
    actor = f"key:{key.name}"
    async with rt.engine.begin() as conn:
        row = None
        if len(message_id) <= 32:
            row = await message_store.get(conn, message_id, key.tenant)
        if row is None:
            raise NotFound(f"no message {message_id!r}", code="unknown_message")
        if row.state == State.CANCELLED:
            return
        if row.state in WAITING:
            reason = f"cancelled by {actor}"
            if await cancel(conn, [row], reason=reason, actor=actor, now=now):
                return
            # Claimed (or cancelled) between our read and our update: say where it is now.
            row = await message_store.get(conn, message_id, key.tenant)
            assert row is not None
            if row.state == State.CANCELLED:
                return
        raise _not_waiting(row.state)


def _not_waiting(state: str) -> Conflict:
    if state in CLAIMED:
        return Conflict(
            f"the message is {state}: a worker is sending it right now; ask again in a moment",
            code="message_in_flight",
        )
    if state in (State.SUPPRESSED, State.FAILED, State.EXPIRED):
        return Conflict(
            f"the message is {state}: nothing more will be attempted", code="message_final"
        )
    return Conflict(
        f"the message is {state}: it was handed to a provider and can no longer be cancelled",
        code="message_handed_over",
    )
