"""How a message comes to exist: a row in state `accepted` with its template version pinned, an
`accepted` entry on the case timeline, both written in the caller's transaction; the dispatch
jobs (message ids only) enqueued after it commits.

Intake creates reminders this way for upstream systems; the gateway creates its own answers to
replies (opt-out confirmations, HELP replies, acknowledgements) the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.ids import new_id
from gateway.queue import enqueue_committed
from gateway.runtime import Runtime
from gateway.states import State
from gateway.store import bulk, timeline
from gateway.store.tables import messages as M


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One message to create. `api_key_id` is None for the gateway's own messages."""

    tenant: str
    case_id: int
    contact_id: int
    channel: str
    template_id: int
    template: str
    purpose: str
    idempotency_key: str
    request_hash: str
    actor: str
    api_key_id: int | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # Extra fields for the `accepted` timeline entry.
    detail: dict[str, Any] = field(default_factory=dict)


def accepted(new: NewMessage, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The message row and its `accepted` timeline entry. A message due now is marked enqueued
    (`enqueued_at`); the caller enqueues it after commit, or the pump does if that fails."""
    message_id = new_id()
    immediate = new.not_before is None or new.not_before <= now
    row = {
        "id": message_id,
        "tenant": new.tenant,
        "case_id": new.case_id,
        "contact_id": new.contact_id,
        "channel": new.channel,
        "template_id": new.template_id,
        "purpose": new.purpose,
        "state": State.ACCEPTED.value,
        "next_attempt_at": now if immediate else new.not_before,
        "enqueued_at": now if immediate else None,
        "attempts": 0,
        "api_key_id": new.api_key_id,
        "idempotency_key": new.idempotency_key,
        "request_hash": new.request_hash,
        "not_before": new.not_before,
        "expires_at": new.expires_at,
        "data": new.data,
        "created_at": now,
        "updated_at": now,
    }
    entry = timeline.entry(
        new.case_id,
        "accepted",
        now,
        message_id=message_id,
        actor=new.actor,
        channel=new.channel,
        template=new.template,
        template_id=new.template_id,
        not_before=new.not_before.isoformat() if new.not_before else None,
        **new.detail,
    )
    return row, entry


async def insert(
    conn: AsyncConnection, rows: Sequence[dict[str, Any]], entries: Sequence[dict[str, Any]]
) -> None:
    """Write message rows and their timeline entries (one statement each)."""
    if rows:
        await bulk.insert(conn, M, rows)
        await timeline.append(conn, entries)


def due(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(id, channel) of the rows to enqueue now."""
    return [(r["id"], r["channel"]) for r in rows if r["enqueued_at"] is not None]


async def enqueue(rt: Runtime, ids: Sequence[tuple[str, str]]) -> None:
    """Enqueue dispatch jobs for (message id, channel) pairs, after the messages were committed.

    Redis being down loses nothing: the scheduler's pump re-enqueues from the database."""
    if ids:
        await enqueue_committed(rt.redis, rt.keys, list(ids), rt.settings.dispatch_chunk)
