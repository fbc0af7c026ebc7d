"""How a dispatch job holds its batch and its debtors, on each database.

PostgreSQL holds the batch's messages by row lock in the transaction that decides them; SQLite,
whose single writer must not wait while a batch renders, by a `dispatching` lease written in a
transaction of its own (see `gateway.services.dispatch`). The debtors of the messages allowed are
then serialized (`serialize`) so the frequency caps hold under any number of workers.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gateway.runtime import Runtime
from gateway.store import history as history_store
from gateway.store import messages as message_store
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M


async def _load(conn: Any, ids: list[str]) -> list[Any]:
    return list(
        await conn.execute(
            sa.select(
                M.c.id,
                M.c.contact_id,
                M.c.case_id,
                M.c.channel,
                M.c.template_id,
                M.c.purpose,
                M.c.attempts,
                M.c.not_before,
                M.c.expires_at,
                M.c.data,
                M.c.created_at,
                M.c.tenant,
                M.c.api_key_id,
                C.c.case_ref,
                C.c.collector_role,
                C.c.restrictions,
                C.c.debtor,
                C.c.debt,
                C.c.locale,
                C.c.state.label("case_state"),
                C.c.state_reason.label("case_state_reason"),
                C.c.state_until,
                C.c.preset,
                C.c.timezone,
                CP.c.address,
                CP.c.postal,
                CP.c.status.label("contact_status"),
                CP.c.role.label("contact_role"),
            )
            .join(C, C.c.id == M.c.case_id)
            .join(CP, CP.c.id == M.c.contact_id)
            .where(M.c.id.in_(ids))
        )
    )


_LOCK_IN_ORDER = sa.text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM "
    "(SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS sorted_keys"
)


async def serialize(conn: Any, message_id: str, addresses: set[str]) -> None:
    """Make this transaction the only one deciding for these debtors until it commits.

    PostgreSQL: transaction-scoped advisory locks on each contact identity, taken in sorted order
    so two workers never deadlock, all in one statement (one round trip per batch, not one per
    address). SQLite: one writer at a time already; a first write takes the write lock (and the
    gateway's write gate) before the history is read.
    """
    if conn.dialect.name == "postgresql":
        keys = sorted({zlib.crc32(a.encode()) for a in addresses})
        # The ordered subquery feeds the locks one row at a time, in that order.
        await conn.execute(_LOCK_IN_ORDER, {"keys": keys})
    else:
        # One no-op write by primary key takes the write lock (an unindexed column would scan).
        await conn.execute(
            sa.update(M).where(M.c.id == message_id).values(lease_until=M.c.lease_until)
        )


@dataclass
class Batch:
    """The messages a dispatch job holds, and what it knows of their debtors."""

    now: datetime
    token: str
    rows: list[Any]
    debtors: dict[int, frozenset[str]]
    inbound: dict[int, Any]
    # The batch's tenants' webhooks (`gateway.store.webhooks.subscribed`), read when deciding.
    hooks: dict[str, list[Any]] = field(default_factory=dict)

    def by_id(self) -> dict[str, Any]:
        return {r.id: r for r in self.rows}


async def hold(rt: Runtime, conn: Any, ids: list[str], *, row_locked: bool) -> Batch:
    now = rt.clock()
    token = message_store.new_claim_token()
    if row_locked:
        held = await message_store.lock_due(conn, ids, now=now)
    else:
        held = await message_store.claim(
            conn, ids, now=now, lease_s=rt.settings.claim_lease_s, token=token
        )
    rows = await _load(conn, held) if held else []
    debtors = await history_store.identities(conn, {r.case_id for r in rows})
    # Only answers to the debtor's own messages need to know when they last wrote to us.
    answering = {r.contact_id for r in rows if r.purpose in history_store.ANSWERS}
    inbound = await history_store.inbound_facts(conn, answering) if answering else {}
    return Batch(now, token, rows, debtors, inbound)
