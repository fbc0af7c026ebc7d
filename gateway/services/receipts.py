"""Receipts: store normalized delivery events once, match them to messages, move states forward.

- De-duplicated by (provider, event id): a provider re-sending a callback changes nothing.
- Monotonic: a state only moves along `states.ALLOWED`, so a late `sent` never undoes `delivered`.
- Never dropped: an event whose provider reference is not known yet is kept unmatched and attached
  by `reconcile()` as soon as the dispatch that produced the reference records it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.events import DeliveryEvent, DeliveryEventType
from gateway.services import webhook_events
from gateway.states import EVENT_TO_STATE, HANDED_OVER, State, sources_of
from gateway.store import cadence_fallbacks, timeline
from gateway.store import cases as case_store
from gateway.store import messages as message_store
from gateway.store import replies as reply_store
from gateway.store.tables import contact_points as CP
from gateway.store.tables import delivery_events as DE
from gateway.store.tables import messages as M


def _insert(conn: AsyncConnection) -> Any:
    return postgresql.insert(DE) if conn.dialect.name == "postgresql" else sqlite.insert(DE)


async def record(
    conn: AsyncConnection, events: Sequence[DeliveryEvent], now: datetime
) -> dict[str, int]:
    """Store and apply a batch of events from one provider callback (or many)."""
    if not events:
        return {"new": 0, "duplicate": 0}
    refs: dict[str, Any] = {}
    for provider in {e.provider for e in events}:
        found = await message_store.by_provider_refs(
            conn, provider, [e.provider_ref for e in events if e.provider == provider]
        )
        refs.update({f"{provider}\0{ref}": row for ref, row in found.items()})
    values = []
    for e in events:
        match = refs.get(f"{e.provider}\0{e.provider_ref}")
        values.append(
            {
                "message_id": match.id if match else None,
                "provider": e.provider,
                "provider_ref": e.provider_ref,
                "event_id": e.event_id,
                "event_type": e.type.value,
                "reject_reason": e.reject_reason,
                "description": (e.description or "")[:256] or None,
                "occurred_at": e.occurred_at,
                "received_at": now,
                "raw": e.raw,
            }
        )
    inserted = await conn.execute(
        _insert(conn)
        .values(values)
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(DE.c.id, DE.c.message_id, DE.c.event_type, DE.c.provider, DE.c.reject_reason)
    )
    new = list(inserted)
    await _apply(
        conn,
        [(r.message_id, r.event_type, r.provider, r.reject_reason) for r in new if r.message_id],
        {row.id: row for row in refs.values()},
        now,
    )
    return {"new": len(new), "duplicate": len(events) - len(new)}


async def reconcile(
    conn: AsyncConnection, provider: str, refs: Sequence[str], now: datetime
) -> int:
    """Attach events that arrived before these provider references were recorded; apply them."""
    if not refs:
        return 0
    waiting = list(
        await conn.execute(
            sa.select(DE.c.id, DE.c.provider_ref, DE.c.event_type, DE.c.reject_reason)
            .where(
                DE.c.provider == provider,
                DE.c.provider_ref.in_(list(refs)),
                DE.c.message_id.is_(None),
            )
            .order_by(DE.c.occurred_at, DE.c.id)
        )
    )
    if not waiting:
        return 0
    messages = await message_store.by_provider_refs(
        conn, provider, [w.provider_ref for w in waiting]
    )
    applied = []
    for w in waiting:
        message = messages.get(w.provider_ref)
        if message is None:
            continue
        await conn.execute(sa.update(DE).where(DE.c.id == w.id).values(message_id=message.id))
        applied.append((message.id, w.event_type, provider, w.reject_reason))
    await _apply(conn, applied, {m.id: m for m in messages.values()}, now)
    return len(applied)


async def _apply(
    conn: AsyncConnection,
    events: list[tuple[str, str, str, str | None]],
    of: dict[str, Any],
    now: datetime,
) -> None:
    """Move each event's message forward; `of` gives each message's row (case, tenant)."""
    entries, told, failed, returned = [], [], [], []
    for message_id, event_type, provider, reject_reason in events:
        target = EVENT_TO_STATE.get(event_type)  # type: ignore[call-overload]
        moved = []
        if target is not None:
            moved = await message_store.transition(
                conn,
                [message_id],
                target,
                now=now,
                from_=_forward_sources(target),
                state_reason=reject_reason,
            )
        if moved:
            told.append(webhook_events.message_event(of[message_id], target, reject_reason))
            if target in FAILURES:
                failed.append(message_id)
            if target is State.RETURNED:
                returned.append(message_id)
        entries.append(
            timeline.entry(
                of[message_id].case_id,
                event_type,
                now,
                message_id=message_id,
                actor=f"provider:{provider}",
                reject_reason=reject_reason,
                state_changed=bool(moved),
            )
        )
    await timeline.append(conn, entries)
    await webhook_events.emit(conn, told, now)
    await _email_contact_effects(conn, events, now)
    await _invalidate_returned(
        conn, [e[0] for e in events if e[1] == DeliveryEventType.RETURNED], now
    )
    await timeline.append(conn, [_needs_review(of[m].case_id, m, now) for m in returned])
    await reply_store.open_returned_letters(
        conn, [(of[m].tenant, of[m].case_id, m) for m in returned], now
    )
    # A cadence step whose message just failed is looked at by the pump's next tick (escalation).
    await cadence_fallbacks.nudge(conn, failed, now)


# The states a receipt moves a message to that say it did not reach the debtor.
FAILURES = (State.UNDELIVERED, State.BOUNCED, State.RETURNED, State.FAILED)


def _needs_review(case_id: int, message_id: str, now: datetime) -> dict[str, Any]:
    """A letter came back: the case has no working postal address and needs a person (on the
    timeline; the inbox gets an open item for it, `replies.open_returned_letters`)."""
    return timeline.entry(
        case_id,
        "needs_review",
        now,
        message_id=message_id,
        reason="letter returned to sender: address invalid",
        source="letter_returned",
        channel="letter",
    )


async def _invalidate_returned(
    conn: AsyncConnection, message_ids: list[str], now: datetime
) -> None:
    """A letter returned to sender means the postal address is wrong: never mail it again."""
    if not message_ids:
        return
    rows = await conn.execute(
        sa.select(M.c.contact_id)
        .join(CP, CP.c.id == M.c.contact_id)
        # An opted-out address keeps its opt-out (and its reason): it is not mailed either way.
        .where(M.c.id.in_(message_ids), CP.c.status.in_((case_store.ACTIVE, case_store.INACTIVE)))
    )
    changes = [(r.contact_id, case_store.INVALID, "returned_to_sender") for r in rows]
    await case_store.set_contact_statuses(conn, changes, now)


def _forward_sources(target: State) -> tuple[State, ...]:
    # Receipts move only what was handed over: never a message the worker still holds (`sending`
    # is settled by the worker), nor one still waiting.
    return tuple(s for s in sources_of(target) if s in HANDED_OVER or s is State.UNKNOWN)


# What an email receipt says about the address itself: a hard bounce makes it invalid (never mail
# it again); a spam complaint or an unsubscribe at the ESP opts it out of email. 5.7.x blocks and
# expired retries say nothing about the address, so they leave it alone.
HARD_BOUNCE_REASONS = ("invalid", "bounced")


async def _email_contact_effects(
    conn: AsyncConnection, events: list[tuple[str, str, str, str | None]], now: datetime
) -> None:
    wanted: dict[str, tuple[str, str]] = {}
    for message_id, event_type, _, reason in events:
        if event_type in ("bounced", "rejected") and reason in HARD_BOUNCE_REASONS:
            wanted[message_id] = (case_store.INVALID, f"email hard bounce ({reason})")
        elif event_type in ("complained", "unsubscribed"):
            wanted[message_id] = (case_store.OPTED_OUT, f"email {event_type}")
    if not wanted:
        return
    rows = await conn.execute(
        sa.select(M.c.id, M.c.contact_id)
        .join(CP, CP.c.id == M.c.contact_id)
        # Only from active: an opted-out address stays opted out, with its reason.
        .where(
            M.c.id.in_(list(wanted)),
            M.c.channel == "email",
            CP.c.status.in_((case_store.ACTIVE, case_store.INACTIVE)),
        )
    )
    changes = [(r.contact_id, *wanted[r.id]) for r in rows]
    await case_store.set_contact_statuses(conn, changes, now)
