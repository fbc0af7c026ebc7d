"""The case timeline as a hash chain: edited, removed or reordered entries cannot go unnoticed.

Why a sealer, not a digest at insert: timeline entries are written on the hot path, in bulk
(`COPY`), by many writers at once — a worker recording a batch's sends while the API records a
receipt of the same case. Chaining at insert would need each writer to read the case's last
digest under a per-case lock, serialising exactly the writes that must stay parallel. So writers
insert entries as they always did, with `digest` and `prev_digest` empty, and one sealer at a
time (the scheduler's leader each tick; an export or a verification first) links them:

- it takes the sealing lock (PostgreSQL: a transaction-scoped advisory lock; SQLite: the single
  write lock, taken before reading), reads the unsealed entries in id order and their cases'
  heads, and for each entry stores `prev_digest` = the case's head and
  `digest` = sha256(canonical(entry, prev_digest)); the case's head becomes
  (`chain_digest`, `chain_entry`, `chain_count`) of its last sealed entry;
- the chain's order is the order of sealing, recorded by the links themselves, with no sequence
  number. On PostgreSQL ids are handed out before commit, so an entry with a lower id can become
  visible after a higher one was sealed: it is simply linked after it. The chain never forks,
  because only the lock holder links, and always onto the head it read under the lock.

What the digest covers (`canonical`): the entry's id, case, time, kind, message, actor and data
and the digest it links to, as JSON with sorted keys and no spaces (UTF-8), so anyone holding an
export can recompute it. The id makes moving entries visible; the link makes removing or
reordering them visible; the case's head and count make removing the last one visible.
What it costs the hot path: the writers' rows are unchanged; only the partial index of unsealed
entries is new (measured on PostgreSQL, COPY of 1,000-entry batches: 33–41 µs an entry without
it, 45 with it, on a shared, noisy 2-core machine). The sealing itself (about 55 µs an entry,
reading, hashing and linking) is off the hot path and bounded: the scheduler's tick seals one
batch, so a burst leaves a backlog sealed afterwards rather than slower sends.

The head itself is in the same database: an attacker who rewrites every digest and the head
escapes it. Publishing heads elsewhere (the export's `chain` line) closes that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import cases as C
from gateway.store.tables import timeline as T

GENESIS = ""  # what a case's first entry links to
# The sealing lock, beyond the 32-bit range of the debtor locks (`services.holding`).
SEAL_LOCK = 0x7267_5345_414C
SEAL_BATCH = 5000
# SQLite's sealer holds the one write lock while it reads, hashes and writes: smaller batches
# keep the writers' wait for it to a few tens of milliseconds.
SQLITE_SEAL_BATCH = 500


def batch_size(conn: AsyncConnection) -> int:
    return SEAL_BATCH if conn.dialect.name == "postgresql" else SQLITE_SEAL_BATCH


ENTRY_COLUMNS = (T.c.id, T.c.case_id, T.c.at, T.c.kind, T.c.message_id, T.c.actor, T.c.data)


def canonical(entry: Any, prev_digest: str) -> bytes:
    """The bytes an entry's digest is taken over (`entry`: a row or mapping of its columns)."""
    get = entry.get if isinstance(entry, Mapping) else lambda name: getattr(entry, name)
    at: Any = get("at")
    body = {
        "id": get("id"),
        "case_id": get("case_id"),
        "at": at if isinstance(at, str) else at.isoformat(),
        "kind": get("kind"),
        "message_id": get("message_id"),
        "actor": get("actor"),
        "data": get("data"),
        "prev_digest": prev_digest,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(entry: Any, prev_digest: str) -> str:
    return hashlib.sha256(canonical(entry, prev_digest)).hexdigest()


@dataclass
class Head:
    digest: str
    entry: int | None
    count: int


async def lock(conn: AsyncConnection) -> None:
    """Make this transaction the only sealer until it commits."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SEAL_LOCK)))
    else:
        # A first write takes SQLite's write lock (and the gateway's write gate) before anything
        # is read, so no other sealer commits between our reads and our writes.
        await conn.execute(sa.update(C).where(C.c.id == -1).values(chain_count=C.c.chain_count))


async def heads(conn: AsyncConnection, case_ids: Iterable[int]) -> dict[int, Head]:
    ids = sorted(set(case_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        sa.select(C.c.id, C.c.chain_digest, C.c.chain_entry, C.c.chain_count).where(C.c.id.in_(ids))
    )
    return {r.id: Head(r.chain_digest or GENESIS, r.chain_entry, r.chain_count) for r in rows}


async def seal(conn: AsyncConnection, *, case_id: int | None = None) -> int:
    """Seal up to a batch of unsealed entries (of one case, or of all) in the caller's
    transaction; return how many. Call `lock` first in the same transaction."""
    limit = batch_size(conn)
    query = sa.select(*ENTRY_COLUMNS).where(T.c.digest.is_(None)).order_by(T.c.id).limit(limit)
    if case_id is not None:
        query = query.where(T.c.case_id == case_id)
    rows = list(await conn.execute(query))
    if not rows:
        return 0
    known = await heads(conn, (r.case_id for r in rows))
    links = []
    for row in rows:
        head = known[row.case_id]
        sealed = digest(row, head.digest)
        links.append({"_id": row.id, "_prev": head.digest, "_digest": sealed})
        known[row.case_id] = Head(sealed, row.id, head.count + 1)
    await _link(conn, links)
    await conn.execute(
        sa.update(C)
        .where(C.c.id == sa.bindparam("_id"))
        .values(
            chain_digest=sa.bindparam("_digest"),
            chain_entry=sa.bindparam("_entry"),
            chain_count=sa.bindparam("_count"),
        ),
        [
            {"_id": cid, "_digest": h.digest, "_entry": h.entry, "_count": h.count}
            for cid, h in known.items()
        ],
    )
    return len(rows)


async def _link(conn: AsyncConnection, links: list[dict[str, Any]]) -> None:
    """Store the links: on PostgreSQL one statement joining the values as arrays (a pass seals
    thousands of entries; one execution each would cost the database several times more)."""
    if conn.dialect.name != "postgresql":
        await conn.execute(
            sa.update(T)
            .where(T.c.id == sa.bindparam("_id"))
            .values(prev_digest=sa.bindparam("_prev"), digest=sa.bindparam("_digest")),
            links,
        )
        return
    columns = (("_id", sa.Integer()), ("_prev", sa.String()), ("_digest", sa.String()))
    arrays = [
        sa.bindparam(name, [link[name] for link in links], type_=postgresql.ARRAY(kind))
        for name, kind in columns
    ]
    values = (
        sa.func.unnest(*arrays)
        .table_valued(*(sa.column(name, kind) for name, kind in columns))
        .render_derived(name="v")
    )
    await conn.execute(
        sa.update(T)
        .where(T.c.id == values.c._id)
        .values(prev_digest=values.c._prev, digest=values.c._digest)
    )
