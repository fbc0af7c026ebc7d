"""The case timeline: append-only, one row per thing that happened on a case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store import bulk
from gateway.store.tables import timeline as T

SYSTEM = "system"


def entry(
    case_id: int,
    kind: str,
    at: datetime,
    *,
    message_id: str | None = None,
    actor: str = SYSTEM,
    **data: Any,
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "kind": kind,
        "at": at,
        "message_id": message_id,
        "actor": actor,
        "data": data,
    }


async def append(conn: AsyncConnection, entries: Sequence[dict[str, Any]]) -> None:
    await bulk.insert(conn, T, entries)


async def for_message(conn: AsyncConnection, case_id: int, message_id: str) -> list[dict[str, Any]]:
    """Every entry about one message: its attempts, decisions and receipts, oldest first."""
    rows = await conn.execute(
        sa.select(T).where(T.c.case_id == case_id, T.c.message_id == message_id).order_by(T.c.id)
    )
    return [_out(r) for r in rows]


def _out(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "at": r.at.isoformat(),
        "kind": r.kind,
        "message_id": r.message_id,
        "actor": r.actor,
        "data": r.data,
    }


async def for_case(
    conn: AsyncConnection, case_id: int, *, after: int = 0, limit: int = 500
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(T).where(T.c.case_id == case_id, T.c.id > after).order_by(T.c.id).limit(limit)
    )
    return [_out(r) for r in rows]
