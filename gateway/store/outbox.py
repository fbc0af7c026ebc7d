"""The webhook outbox: one row per event and webhook, and what each delivery attempt did to it.

States: `pending` (waiting for its next attempt), `delivered`, `failed` (every attempt for a day
failed), `cancelled` (its webhook was deleted). A chain — one webhook and one case — is
delivered in id order: a row is due only when no earlier row of its chain is still waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import bulk
from gateway.store.tables import cases as C
from gateway.store.tables import webhook_deliveries as D
from gateway.store.tables import webhooks as W

PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"


async def add(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Write outbox rows with the caller's transaction (COPY for a large batch on PostgreSQL)."""
    await bulk.insert(conn, D, rows)


async def due(conn: AsyncConnection, now: datetime, limit: int) -> list[Any]:
    """Pending rows due now whose chain has no earlier row still waiting, in id order, with
    their webhook's URL and secret and their case's reference."""
    earlier = D.alias("earlier")
    blocked = (
        sa.select(earlier.c.id)
        .where(
            earlier.c.webhook_id == D.c.webhook_id,
            earlier.c.chain == D.c.chain,
            earlier.c.state == PENDING,
            earlier.c.id < D.c.id,
            earlier.c.next_attempt_at > now,
        )
        .exists()
    )
    rows = await conn.execute(
        sa.select(
            D.c.id,
            D.c.webhook_id,
            D.c.event_id,
            D.c.event_type,
            D.c.chain,
            D.c.data,
            D.c.occurred_at,
            D.c.attempts,
            D.c.give_up_at,
            W.c.url,
            W.c.secret,
            C.c.case_ref,
        )
        # A row written by a process that had not yet seen its webhook's deletion is not sent.
        .join(W, sa.and_(W.c.id == D.c.webhook_id, W.c.deleted_at.is_(None)))
        .outerjoin(C, C.c.id == D.c.case_id)
        .where(D.c.state == PENDING, D.c.next_attempt_at <= now, ~blocked)
        .order_by(D.c.id)
        .limit(limit)
    )
    return list(rows)


async def settle(conn: AsyncConnection, results: Sequence[dict[str, Any]]) -> None:
    """Write each attempt's result: `{"_id", "state", "attempts", "next_attempt_at",
    "last_status", "last_error", "delivered_at"}`, one executemany for the whole round."""
    if not results:
        return
    columns = ("state", "attempts", "next_attempt_at", "last_status", "last_error", "delivered_at")
    await conn.execute(
        sa.update(D)
        .where(D.c.id == sa.bindparam("_id"), D.c.state == PENDING)
        .values(**{c: sa.bindparam(f"_{c}") for c in columns}),
        [{"_id": r["id"], **{f"_{c}": r[c] for c in columns}} for r in results],
    )


async def page(conn: AsyncConnection, webhook_id: str, *, after: int, limit: int) -> list[Any]:
    rows = await conn.execute(
        sa.select(D)
        .where(D.c.webhook_id == webhook_id, D.c.id > after)
        .order_by(D.c.id)
        .limit(limit)
    )
    return list(rows)


async def redeliver(
    conn: AsyncConnection, webhook_id: str, delivery_id: int, now: datetime, give_up_at: datetime
) -> Any | None:
    """Send a delivery again at once, whatever its state (a cancelled one stays cancelled: its
    webhook is gone); it gets a new day of retries. None when the webhook has no such delivery."""
    await conn.execute(
        sa.update(D)
        .where(D.c.id == delivery_id, D.c.webhook_id == webhook_id, D.c.state != CANCELLED)
        .values(state=PENDING, next_attempt_at=now, give_up_at=give_up_at, delivered_at=None)
    )
    found = await conn.execute(
        sa.select(D).where(D.c.id == delivery_id, D.c.webhook_id == webhook_id)
    )
    return found.first()
