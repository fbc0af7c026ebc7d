"""Cadence runs and their steps (tables `cadence_runs`, `cadence_steps`): what is running on a
case, each step's state and due time, and what their messages became."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.states import ContactStatus
from gateway.store import bulk
from gateway.store.tables import cadence_runs as R
from gateway.store.tables import cadence_steps as CS
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP
from gateway.store.tables import delivery_events as DE
from gateway.store.tables import messages as M
from gateway.store.tables import replies as RP

ACTIVE = "active"


async def active(conn: AsyncConnection, case_id: int) -> Any | None:
    return (
        await conn.execute(sa.select(R).where(R.c.case_id == case_id, R.c.state == ACTIVE))
    ).first()


async def latest(conn: AsyncConnection, case_id: int) -> Any | None:
    """The case's running cadence, else the one that ended last."""
    return (
        await conn.execute(
            sa.select(R)
            .where(R.c.case_id == case_id)
            .order_by((R.c.state == ACTIVE).desc(), R.c.id.desc())
            .limit(1)
        )
    ).first()


async def runs(conn: AsyncConnection, ids: Iterable[int]) -> list[Any]:
    return list(await conn.execute(sa.select(R).where(R.c.id.in_(sorted(ids))).order_by(R.c.id)))


async def insert(conn: AsyncConnection, run: dict[str, Any], steps: list[dict[str, Any]]) -> int:
    run_id = int((await conn.execute(sa.insert(R).values(**run).returning(R.c.id))).scalar_one())
    await bulk.insert(conn, CS, [{**s, "run_id": run_id} for s in steps])
    return run_id


async def steps(conn: AsyncConnection, run_ids: Iterable[int]) -> dict[int, list[Any]]:
    """Each run's steps, in order."""
    out: dict[int, list[Any]] = {}
    rows = await conn.execute(
        sa.select(CS).where(CS.c.run_id.in_(sorted(run_ids))).order_by(CS.c.run_id, CS.c.idx)
    )
    for row in rows:
        out.setdefault(row.run_id, []).append(row)
    return out


async def update_step(
    conn: AsyncConnection, step_id: int, *, only_if: Sequence[str] = (), **values: Any
) -> bool:
    """Change one step; with `only_if`, only while it is in one of those states (True if so)."""
    query = sa.update(CS).where(CS.c.id == step_id)
    if only_if:
        query = query.where(CS.c.state.in_(list(only_if)))
    return bool((await conn.execute(query.values(**values))).rowcount)


async def end(
    conn: AsyncConnection, run_id: int, state: str, reason: str, now: datetime
) -> list[Any]:
    """End a run (`stopped` or `finished`); its pending steps become `cancelled` with the
    reason. Returns the steps cancelled."""
    cancelled = list(
        await conn.execute(
            sa.select(CS).where(CS.c.run_id == run_id, CS.c.state == "pending").order_by(CS.c.idx)
        )
    )
    if cancelled:
        await conn.execute(
            sa.update(CS)
            .where(CS.c.run_id == run_id, CS.c.state == "pending")
            .values(state="cancelled", reason=reason[:256], updated_at=now)
        )
    await conn.execute(
        sa.update(CS).where(CS.c.run_id == run_id, CS.c.check_at.is_not(None)).values(check_at=None)
    )
    await conn.execute(
        sa.update(R)
        .where(R.c.id == run_id)
        .values(state=state, ended_at=now, end_reason=reason[:256], updated_at=now)
    )
    return cancelled


async def due_runs(
    conn: AsyncConnection, now: datetime, limit: int, exclude: set[int]
) -> list[int]:
    """Runs with a step to look at by `now` (oldest first), leaving out `exclude`."""
    query = (
        sa.select(CS.c.run_id)
        .where(CS.c.check_at <= now)
        .group_by(CS.c.run_id)
        .order_by(sa.func.min(CS.c.check_at))
        .limit(limit)
    )
    if exclude:
        query = query.where(CS.c.run_id.notin_(sorted(exclude)))
    return [r.run_id for r in await conn.execute(query)]


async def messages(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, Any]:
    """What the steps' messages became: state, reason, when sent, when next tried, when
    delivered (the first `delivered` receipt)."""
    wanted = sorted(ids)
    if not wanted:
        return {}
    rows = await conn.execute(
        sa.select(
            M.c.id,
            M.c.channel,
            M.c.state,
            M.c.state_reason,
            M.c.sent_at,
            M.c.attempted_at,
            M.c.next_attempt_at,
        ).where(M.c.id.in_(wanted))
    )
    found = {r.id: dict(r._mapping) for r in rows}
    delivered = await conn.execute(
        sa.select(DE.c.message_id, sa.func.min(DE.c.occurred_at).label("at"))
        .where(DE.c.message_id.in_(wanted), DE.c.event_type == "delivered")
        .group_by(DE.c.message_id)
    )
    for r in delivered:
        found[r.message_id]["delivered_at"] = r.at
    return found


async def replies_since(
    conn: AsyncConnection, case_ids: Iterable[int], since: datetime
) -> dict[int, tuple[datetime, ...]]:
    """When each case's debtor wrote to us since `since`."""
    out: dict[int, list[datetime]] = {}
    rows = await conn.execute(
        sa.select(RP.c.case_id, RP.c.received_at)
        .where(RP.c.case_id.in_(sorted(case_ids)), RP.c.received_at >= since)
        .order_by(RP.c.received_at)
    )
    for r in rows:
        out.setdefault(r.case_id, []).append(r.received_at)
    return {k: tuple(v) for k, v in out.items()}


async def cases(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, Any]:
    """The runs' cases: state and debt facts, what the plan reads."""
    rows = await conn.execute(
        sa.select(
            C.c.id, C.c.case_ref, C.c.state, C.c.state_reason, C.c.state_until, C.c.debt
        ).where(C.c.id.in_(sorted(ids)))
    )
    return {r.id: r for r in rows}


async def opted_out(conn: AsyncConnection, case_ids: Iterable[int]) -> dict[int, set[str]]:
    """The channels each case's debtor opted out of: the case has points on the channel (a
    third party's aside), one of them opted out, and none it may still be written to on."""
    statuses: dict[tuple[int, str], set[str]] = {}
    rows = await conn.execute(
        sa.select(CP.c.case_id, CP.c.channel, CP.c.status, CP.c.role).where(
            CP.c.case_id.in_(sorted(case_ids))
        )
    )
    for r in rows:
        if r.role != "third_party" or r.channel == "letter":
            statuses.setdefault((r.case_id, r.channel), set()).add(r.status)
    out: dict[int, set[str]] = {}
    for (case_id, channel), seen in statuses.items():
        if ContactStatus.OPTED_OUT in seen and ContactStatus.ACTIVE not in seen:
            out.setdefault(case_id, set()).add(channel)
    return out


async def look_again(conn: AsyncConnection, message_ids: Iterable[str], now: datetime) -> None:
    """The pump looks at the released steps of these messages at once (their message changed:
    the step is done, and the next one need not wait for the old check time)."""
    ids = sorted(message_ids)
    if ids:
        await conn.execute(
            sa.update(CS)
            .where(CS.c.message_id.in_(ids), CS.c.state == "released")
            .values(check_at=now)
        )
