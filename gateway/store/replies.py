"""Replies as the operators' inbox reads them: one tenant's, by status, category, case and
channel, in the order the gateway recorded them, and one by id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import cases as C
from gateway.store.tables import replies as R

OPEN, RESOLVED = "open", "resolved"
INBOX = (OPEN, RESOLVED)


@dataclass(frozen=True, slots=True)
class Filter:
    """Which of a tenant's replies: `statuses` of the inbox, and optionally one category (as the
    classifier read it first), one case, one channel; after the reply id `after`."""

    tenant: str
    statuses: tuple[str, ...] = (OPEN,)
    category: str | None = None
    case_ref: str | None = None
    channel: str | None = None
    after: int = 0


def _select() -> sa.Select:  # type: ignore[type-arg]
    return sa.select(R, C.c.case_ref).select_from(R).outerjoin(C, C.c.id == R.c.case_id)


async def page(conn: AsyncConnection, where: Filter, limit: int) -> list[Any]:
    """Up to `limit` replies matching `where`, oldest first (by id: the order they were recorded
    in, so a page never misses one recorded later with an earlier date)."""
    query = _select().where(
        R.c.tenant == where.tenant, R.c.status.in_(where.statuses), R.c.id > where.after
    )
    if where.category is not None:
        query = query.where(R.c.category == where.category)
    if where.case_ref is not None:
        query = query.where(C.c.case_ref == where.case_ref, C.c.tenant == where.tenant)
    if where.channel is not None:
        query = query.where(R.c.channel == where.channel)
    return list(await conn.execute(query.order_by(R.c.id).limit(limit)))


async def get(conn: AsyncConnection, tenant: str, reply_id: int, *, lock: bool = False) -> Any:
    """The tenant's reply `reply_id` (any status), or None; `lock` holds its row (PostgreSQL)."""
    query = _select().where(R.c.tenant == tenant, R.c.id == reply_id)
    if lock:
        query = query.with_for_update(of=R)
    return (await conn.execute(query)).first()


async def resolve(
    conn: AsyncConnection,
    reply_id: int,
    *,
    category: str,
    note: str,
    by: str,
    now: datetime,
    case_id: int | None,
    contact_id: int | None,
) -> bool:
    """Mark an open reply resolved (on `case_id`, when it is attached to one now); False when it
    is not open (resolved meanwhile, or never in the inbox)."""
    values: dict[str, Any] = {
        "status": RESOLVED,
        "resolved_at": now,
        "resolved_by": by,
        "resolution": category,
        "resolution_note": note,
        "resolution_effects": [],
    }
    if case_id is not None:
        values.update(case_id=case_id, contact_id=contact_id)
    done = await conn.execute(
        sa.update(R).where(R.c.id == reply_id, R.c.status == OPEN).values(**values)
    )
    return done.rowcount == 1


async def set_resolution_effects(
    conn: AsyncConnection, reply_id: int, effects: list[dict[str, Any]]
) -> None:
    await conn.execute(sa.update(R).where(R.c.id == reply_id).values(resolution_effects=effects))


RETURNED_MAIL = "postal_return"  # replies.provider of a letter the post brought back
RETURNED_REASON = "letter returned to sender: the postal address is invalid"


async def open_returned_letters(
    conn: AsyncConnection, returned: list[tuple[str, int, str]], now: datetime
) -> None:
    """Put each case whose letter came back in the inbox: one open item per returned letter
    ((tenant, case id, message id)), as mail received about the case. It is the post's notice, not the
    debtor's words: nothing is classified or acted on, a person decides (a new address, a
    trace, another channel) and resolves it."""
    if not returned:
        return
    await conn.execute(
        sa.insert(R),
        [
            {
                "case_id": case_id,
                "tenant": tenant,
                "channel": "letter",
                "provider": RETURNED_MAIL,
                # One item per letter however often its receipt is told (NULLs would not collide).
                "provider_ref": message_id,
                "from_addr": "",
                "body": f"Letter {message_id} was returned to sender.",
                "category": "unknown",
                "categories": ["unknown"],
                "received_at": now,
                "raw": {"message_id": message_id, "source": "letter_returned"},
                "effects": [],
                "needs_review": True,
                "status": OPEN,
                "review_reasons": [RETURNED_REASON],
            }
            for tenant, case_id, message_id in returned
        ],
    )
