"""The messages cadence steps fell back to (table `cadence_fallbacks`), and the nudge a failure
receipt gives the pump: the step its message belongs to is looked at on the next tick."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import cadence_fallbacks as F
from gateway.store.tables import cadence_steps as CS


async def for_runs(conn: AsyncConnection, run_ids: Iterable[int]) -> dict[int, list[Any]]:
    """Each step's fallbacks (by step id), in attempt order."""
    out: dict[int, list[Any]] = {}
    rows = await conn.execute(
        sa.select(F).where(F.c.run_id.in_(sorted(run_ids))).order_by(F.c.step_id, F.c.attempt)
    )
    for row in rows:
        out.setdefault(row.step_id, []).append(row)
    return out


async def insert(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[tuple[int, int]]:
    """Store fallbacks; one already stored for its (step, attempt) is left as it is. Returns the
    (step id, attempt) of those written now."""
    if not rows:
        return set()
    insert = postgresql.insert(F) if conn.dialect.name == "postgresql" else sqlite.insert(F)
    written = await conn.execute(
        insert.values(list(rows))
        .on_conflict_do_nothing(index_elements=["step_id", "attempt"])
        .returning(F.c.step_id, F.c.attempt)
    )
    return {(r.step_id, r.attempt) for r in written}


async def nudge(conn: AsyncConnection, message_ids: Sequence[str], now: datetime) -> None:
    """Have the pump look now at the steps these messages belong to (their own or a fallback),
    where it still watches them (a step it no longer looks at stays so)."""
    if not message_ids:
        return
    ids = sorted(set(message_ids))
    owners = sa.select(F.c.step_id).where(F.c.message_id.in_(ids))
    await conn.execute(
        sa.update(CS)
        .where(
            sa.or_(CS.c.message_id.in_(ids), CS.c.id.in_(owners)),
            CS.c.check_at.is_not(None),
            CS.c.check_at > now,
        )
        .values(check_at=now)
    )
