"""Many new cases stored at once, each exactly as `store.cases.upsert` would store it alone.

An import of ten thousand cases, one `upsert` each, is ten thousand round trips for the case,
its contact points and its read-back; here a chunk is one insert of the cases, one read of their
ids and one insert of their contact points (COPY on PostgreSQL, `store.bulk`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.states import CaseState, ContactStatus
from gateway.store import bulk
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP

Contacts = Sequence[dict[str, Any]]


async def insert(
    conn: AsyncConnection,
    tenant: str,
    cases: Mapping[str, tuple[dict[str, Any], Contacts]],
    now: datetime,
) -> dict[str, int]:
    """Insert cases that do not exist yet: case_ref → (fields, contacts). Returns their ids."""
    if not cases:
        return {}
    await bulk.insert(
        conn,
        C,
        [
            {
                "tenant": tenant,
                "case_ref": ref,
                "state": CaseState.ACTIVE.value,
                "created_at": now,
                "updated_at": now,
                **fields,
            }
            for ref, (fields, _) in cases.items()
        ],
    )
    ids = {
        r.case_ref: r.id
        for r in await conn.execute(
            sa.select(C.c.id, C.c.case_ref).where(
                C.c.tenant == tenant, C.c.case_ref.in_(list(cases))
            )
        )
    }
    await bulk.insert(
        conn,
        CP,
        [
            {
                "case_id": ids[ref],
                "channel": c["channel"],
                "address": c["address"],
                "postal": c.get("postal"),
                "status": ContactStatus.ACTIVE.value,
                "role": c.get("role", "debtor"),
                "consent": {"source": "upstream"},
                "zones": c.get("zones"),
                "created_at": now,
                "updated_at": now,
            }
            for ref, (_, contacts) in cases.items()
            for c in contacts
        ],
    )
    return ids
