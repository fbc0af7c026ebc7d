"""Queries on messages. `transition()` is the one owner of message state changes."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.states import ALLOWED, CLAIMABLE, LIVE, WAITING, State, sources_of
from gateway.store.tables import messages as M


class IllegalTransition(ValueError):
    pass


def _sources(to: State, from_: Iterable[State] | None) -> tuple[State, ...]:
    allowed = sources_of(to)
    if from_ is None:
        return allowed
    wanted = tuple(from_)
    illegal = [s for s in wanted if to not in ALLOWED[s]]
    if illegal:
        raise IllegalTransition(f"{', '.join(illegal)} -> {to} is not a message transition")
    return wanted


def _ending(to: State) -> dict[str, Any]:
    """What a transition to `to` clears besides: the next attempt, once there will be none."""
    return {} if to in LIVE else {"next_attempt_at": None}


async def transition(
    conn: AsyncConnection,
    ids: Sequence[str],
    to: State,
    *,
    now: datetime,
    from_: Iterable[State] | None = None,
    held_by: str | None = None,
    where: Sequence[Any] = (),
    **values: Any,
) -> list[str]:
    """Move the messages `ids` that are in an allowed source state to `to`; return the ids moved.

    Messages in any other state are left alone, which makes every transition safe to race: two
    workers claiming the same id cannot both win. `held_by` restricts it to one worker's claim.
    A message leaving the live states loses its `next_attempt_at`.
    """
    if not ids:
        return []
    stmt = (
        sa.update(M)
        .where(M.c.id.in_(list(ids)), M.c.state.in_(_sources(to, from_)), *where)
        .values(state=to.value, updated_at=now, **_ending(to), **values)
        .returning(M.c.id)
    )
    if held_by is not None:
        stmt = stmt.where(M.c.claim_token == held_by)
    result = await conn.execute(stmt)
    return [row[0] for row in result]


async def transition_each(
    conn: AsyncConnection,
    rows: Sequence[dict[str, Any]],
    to: State,
    *,
    now: datetime,
    from_: Iterable[State] | None = None,
    held_by: str | None = None,
) -> None:
    """Like `transition` with per-message values: each row is `{"id": ..., column: value, ...}`.

    All rows must carry the same columns. PostgreSQL takes them in one statement, the values as
    arrays joined to the rows (`UPDATE … FROM unnest(…)`): one execution instead of one per
    message. Elsewhere, one statement executed for many parameter sets.
    """
    if not rows:
        return
    columns = [k for k in rows[0] if k != "id"]
    if conn.dialect.name == "postgresql" and len({r["id"] for r in rows}) == len(rows) > 1:
        await conn.execute(_update_from_arrays(rows, columns, to, now, from_, held_by))
        return
    stmt = (
        sa.update(M)
        # Plain equalities: an expanding IN cannot be used with executemany.
        .where(
            M.c.id == sa.bindparam("_id"),
            sa.or_(*(M.c.state == s.value for s in _sources(to, from_))),
        )
        .values(
            state=to.value,
            updated_at=now,
            **_ending(to),
            **{c: sa.bindparam(f"_{c}") for c in columns},
        )
    )
    if held_by is not None:
        stmt = stmt.where(M.c.claim_token == held_by)
    params = [{"_id": r["id"], **{f"_{c}": r[c] for c in columns}} for r in rows]
    await conn.execute(stmt, params)


def _update_from_arrays(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    to: State,
    now: datetime,
    from_: Iterable[State] | None,
    held_by: str | None,
) -> sa.Update:
    arrays = [
        sa.bindparam(f"_{name}", [r[name] for r in rows], type_=postgresql.ARRAY(M.c[name].type))
        for name in ("id", *columns)
    ]
    values = (
        sa.func.unnest(*arrays)
        .table_valued(*(sa.column(name, M.c[name].type) for name in ("id", *columns)))
        .render_derived(name="v")
    )
    stmt = (
        sa.update(M)
        .where(M.c.id == values.c.id, M.c.state.in_(_sources(to, from_)))
        .values(
            state=to.value,
            updated_at=now,
            **_ending(to),
            **{name: values.c[name] for name in columns},
        )
    )
    return stmt.where(M.c.claim_token == held_by) if held_by is not None else stmt


def new_claim_token() -> str:
    return secrets.token_hex(8)


async def lock_due(conn: AsyncConnection, ids: Sequence[str], *, now: datetime) -> list[str]:
    """PostgreSQL: hold the due, claimable messages among `ids` for this transaction, by row
    lock. Rows another transaction holds are skipped, not waited for: that batch has them."""
    if not ids:
        return []
    rows = await conn.execute(
        sa.select(M.c.id)
        .where(
            M.c.id.in_(list(ids)),
            M.c.state.in_([s.value for s in CLAIMABLE]),
            M.c.next_attempt_at <= now,
        )
        .with_for_update(skip_locked=True)
    )
    return [row[0] for row in rows]


async def claim(
    conn: AsyncConnection, ids: Sequence[str], *, now: datetime, lease_s: float, token: str
) -> list[str]:
    """Atomically take the due, claimable messages among `ids` under a new lease (`dispatching`),
    for a claim that outlives its transaction (SQLite's, see `dispatch`)."""
    due = M.c.next_attempt_at <= now  # every waiting message has one (see `transition`)
    return await transition(
        conn,
        ids,
        State.DISPATCHING,
        now=now,
        from_=CLAIMABLE,
        where=[due],
        lease_until=now + timedelta(seconds=lease_s),
        claim_token=token,
    )


async def due_for_enqueue(
    conn: AsyncConnection,
    *,
    now: datetime,
    requeue_after_s: float,
    limit: int,
    requeue_channels: Iterable[str] | None = None,
) -> list[tuple[str, str]]:
    """(id, channel) of waiting messages that are due and not enqueued, or enqueued more than
    `requeue_after_s` ago on one of `requeue_channels` (all channels when None)."""
    stale = M.c.enqueued_at < now - timedelta(seconds=requeue_after_s)
    if requeue_channels is not None:
        stale = sa.and_(stale, M.c.channel.in_(sorted(requeue_channels)))
    rows = await conn.execute(
        sa.select(M.c.id, M.c.channel)
        .where(
            M.c.state.in_([s.value for s in CLAIMABLE]),
            # The partial index on next_attempt_at: a comparison implies IS NOT NULL.
            M.c.next_attempt_at <= now,
            sa.or_(M.c.enqueued_at.is_(None), stale),
        )
        .order_by(M.c.next_attempt_at)
        .limit(limit)
    )
    return [(r.id, r.channel) for r in rows]


async def mark_enqueued(conn: AsyncConnection, ids: Sequence[str], now: datetime) -> None:
    if ids:
        await conn.execute(sa.update(M).where(M.c.id.in_(list(ids))).values(enqueued_at=now))


async def expired_claims(conn: AsyncConnection, now: datetime, limit: int = 1000) -> list[Any]:
    rows = await conn.execute(
        sa.select(M.c.id, M.c.case_id, M.c.state, M.c.tenant, M.c.channel)
        .where(M.c.state.in_([State.DISPATCHING.value, State.SENDING.value]), M.c.lease_until < now)
        .limit(limit)
    )
    return list(rows.all())


async def get(conn: AsyncConnection, message_id: str, tenant: str) -> sa.Row[Any] | None:
    row = await conn.execute(sa.select(M).where(M.c.id == message_id, M.c.tenant == tenant))
    return row.first()


async def by_provider_refs(
    conn: AsyncConnection, provider: str, refs: Sequence[str]
) -> dict[str, Any]:
    if not refs:
        return {}
    rows = await conn.execute(
        sa.select(
            M.c.id,
            M.c.case_id,
            M.c.state,
            M.c.provider_ref,
            M.c.contact_id,
            M.c.tenant,
            M.c.channel,
        ).where(M.c.provider == provider, M.c.provider_ref.in_(list(set(refs))))
    )
    return {r.provider_ref: r for r in rows}


async def make_due(
    conn: AsyncConnection, where: sa.ColumnElement[bool], now: datetime
) -> list[tuple[str, str]]:
    """Waiting messages matching `where` are due now, so their next attempt re-decides them
    against a changed case or contact point. They are marked enqueued: the caller enqueues the
    returned (id, channel) pairs after commit (or the pump does, once `enqueued_at` is stale)."""
    rows = await conn.execute(
        sa.update(M)
        .where(M.c.state.in_([s.value for s in WAITING]), where)
        .values(next_attempt_at=now, enqueued_at=now, updated_at=now)
        .returning(M.c.id, M.c.channel)
    )
    return [(r.id, r.channel) for r in rows]


async def waiting(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> list[Any]:
    """The waiting messages matching `where` (not claimed, not handed to a provider)."""
    rows = await conn.execute(
        sa.select(M.c.id, M.c.case_id, M.c.tenant, M.c.channel, M.c.state).where(
            M.c.state.in_([s.value for s in WAITING]), where
        )
    )
    return list(rows)
