"""The events upstream systems can receive by webhook, written to the outbox in the transaction
of the change they tell of: a change that commits has its events, one that rolls back has none,
and a process dying right after the commit loses nothing (the scheduler's delivery loop sends
them from the database).

Every writer collects its batch's events and calls `emit` once: the batch's tenants' webhooks
come from the process's cache (`gateway.store.webhooks.subscribed`; at most one indexed query a
batch, none while the cache is fresh), a tenant without one costs nothing more, and the rows go
in with one bulk insert (COPY on PostgreSQL).
Each event has its own id (`evt_…`), the same for every webhook and every attempt: the
`webhook-id` a receiver de-duplicates on.

`message.state_changed` tells of the states upstream can act on; `dispatching` and `sending`
are the worker's own claim on a message, a moment long, and are not told.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.states import State
from gateway.store import outbox
from gateway.store import webhooks as webhook_store
from gateway.store.webhooks import Subscription

MESSAGE_STATE_CHANGED = "message.state_changed"
REPLY_RECEIVED = "reply.received"
CASE_STATE_CHANGED = "case.state_changed"
CADENCE_STEP = "cadence.step"
EVENT_TYPES = (MESSAGE_STATE_CHANGED, REPLY_RECEIVED, CASE_STATE_CHANGED, CADENCE_STEP)

UNTOLD = frozenset({State.DISPATCHING, State.SENDING})
# How long the loop keeps trying a delivery before marking it failed.
GIVE_UP = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Event:
    tenant: str
    case_id: int | None
    type: str
    data: dict[str, Any]


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(14)


async def emit(
    conn: AsyncConnection,
    events: Sequence[Event],
    now: datetime,
    hooks: Mapping[str, list[Subscription]] | None = None,
) -> int:
    """Write `events` for every webhook of their tenant that wants them; return the rows written.
    `hooks`: the tenants' webhooks when the caller already read them in this transaction."""
    if not events:
        return 0
    if hooks is None:
        hooks = await webhook_store.subscribed(conn, {e.tenant for e in events})
    if not hooks:
        return 0
    rows = []
    for event in events:
        wanting = [h for h in hooks.get(event.tenant, ()) if event.type in h.event_types]
        if not wanting:
            continue
        event_id = new_event_id()
        for hook in wanting:
            rows.append(
                {
                    "webhook_id": hook.id,
                    "event_id": event_id,
                    "event_type": event.type,
                    "case_id": event.case_id,
                    "chain": event.case_id or 0,
                    "data": event.data,
                    "occurred_at": now,
                    "state": outbox.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "give_up_at": now + GIVE_UP,
                }
            )
    await outbox.add(conn, rows)
    return len(rows)


def message_states(
    rows_by_id: Mapping[str, Any],
    moves: Iterable[tuple[Iterable[Mapping[str, Any]], State]],
) -> list[Event]:
    """The events of a batch's transitions: `moves` pairs the updated rows (dicts with `id` and
    maybe `state_reason`) with their new state; `rows_by_id` gives each message's `tenant` and
    `case_id` (and `channel` when known)."""
    events = []
    for updates, state in moves:
        if state in UNTOLD:
            continue
        for update in updates:
            row = rows_by_id[update["id"]]
            events.append(message_event(row, state, update.get("state_reason")))
    return events


def message_event(row: Any, state: State | str, reason: str | None) -> Event:
    data = {"message_id": row.id, "state": str(getattr(state, "value", state))}
    channel = getattr(row, "channel", None)
    if channel is not None:
        data["channel"] = channel
    if reason:
        data["state_reason"] = reason
    return Event(row.tenant, row.case_id, MESSAGE_STATE_CHANGED, data)


def reply_received(case: Any, reply_id: int, channel: str, category: str, **facts: Any) -> Event:
    """A debtor's reply matched to `case`. Its text stays in the gateway (a personal message);
    upstream learns what it means."""
    data = {"reply_id": reply_id, "channel": channel, "category": category}
    data.update({k: v for k, v in facts.items() if v is not None})
    return Event(case.tenant, case.id, REPLY_RECEIVED, data)


def case_state_changed(
    case: Any, state: str, reason: str | None, until: datetime | None, cause: str
) -> Event:
    data = {
        "state": str(getattr(state, "value", state)),
        "state_reason": reason,
        "state_until": until.isoformat() if until else None,
        "previous_state": case.state,
        "cause": cause,
    }
    return Event(case.tenant, case.id, CASE_STATE_CHANGED, data)


async def cadence_step(
    conn: AsyncConnection,
    *,
    tenant: str,
    case_id: int,
    cadence: str,
    step: int,
    now: datetime,
    message_id: str | None = None,
    **detail: Any,
) -> int:
    """Tell upstream a cadence took a step on a case (the cadence engine calls this in the
    transaction that records the step): which cadence, which step, and the message it created
    if any. `detail` must hold no personal data."""
    data: dict[str, Any] = {"cadence": cadence, "step": step, **detail}
    if message_id is not None:
        data["message_id"] = message_id
    return await emit(conn, [Event(tenant, case_id, CADENCE_STEP, data)], now)
