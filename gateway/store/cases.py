"""Cases and their contact points."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.states import CaseState, ContactStatus
from gateway.store import timeline
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP

ACTIVE, INACTIVE = ContactStatus.ACTIVE, ContactStatus.INACTIVE
OPTED_OUT, INVALID = ContactStatus.OPTED_OUT, ContactStatus.INVALID


def postal_key(postal: dict[str, Any]) -> str:
    """The letter contact point's address: every part of the postal address, in one string.
    City and region count only when given, so a lines-only address keeps its key."""
    place = [postal[name] for name in ("city", "region") if postal.get(name)]
    return " | ".join(
        [*postal["lines"], *place, postal.get("postal_code") or "", postal["country"]]
    ).strip()


async def upsert(
    conn: AsyncConnection,
    *,
    tenant: str,
    case_ref: str,
    fields: dict[str, Any],
    contacts: list[dict[str, Any]],
    now: datetime,
) -> tuple[int, bool, list[str]]:
    """Create or update a case and its contact points. Returns (case id, created, changes)."""
    row = (
        await conn.execute(sa.select(C.c.id).where(C.c.tenant == tenant, C.c.case_ref == case_ref))
    ).first()
    created = row is None
    if created:
        result = await conn.execute(
            sa.insert(C)
            .values(
                tenant=tenant,
                case_ref=case_ref,
                state=CaseState.ACTIVE.value,
                created_at=now,
                updated_at=now,
                **fields,
            )
            .returning(C.c.id)
        )
        case_id = result.scalar_one()
    else:
        assert row is not None
        case_id = row.id
        await conn.execute(sa.update(C).where(C.c.id == case_id).values(updated_at=now, **fields))

    existing = {
        (r.channel, r.address): r
        for r in await conn.execute(sa.select(CP).where(CP.c.case_id == case_id))
    }
    wanted = {(c["channel"], c["address"]): c for c in contacts}
    changes: list[str] = []
    for key, contact in wanted.items():
        current = existing.get(key)
        if current is None:
            await conn.execute(
                sa.insert(CP).values(
                    case_id=case_id,
                    channel=contact["channel"],
                    address=contact["address"],
                    postal=contact.get("postal"),
                    status=ACTIVE.value,
                    role=contact.get("role", "debtor"),
                    consent={"source": "upstream"},
                    zones=contact.get("zones"),
                    created_at=now,
                    updated_at=now,
                )
            )
            changes.append(f"contact_added:{contact['channel']}")
        else:
            role = contact.get("role", "debtor")
            if current.status == INACTIVE:
                await set_contact_status(conn, current.id, ACTIVE, now=now)
                changes.append(f"contact_reactivated:{contact['channel']}")
            if current.role != role:
                await conn.execute(
                    sa.update(CP).where(CP.c.id == current.id).values(role=role, updated_at=now)
                )
                changes.append(f"contact_role:{contact['channel']}:{role}")
            if contact.get("zones") is not None and current.zones != contact["zones"]:
                # Stored before the zones were, or read from older numbering data.
                await conn.execute(
                    sa.update(CP).where(CP.c.id == current.id).values(zones=contact["zones"])
                )
    for key, current in existing.items():
        if key not in wanted and current.status == ACTIVE:
            await set_contact_status(conn, current.id, INACTIVE, now=now)
            changes.append(f"contact_removed:{current.channel}")
    return case_id, created, changes


async def set_state(
    conn: AsyncConnection,
    case_id: int,
    state: CaseState,
    *,
    reason: str | None,
    until: datetime | None,
    now: datetime,
    **fields: Any,
) -> None:
    """The one writer of a case's state (and of `fields` changed with it, e.g. the debt)."""
    await conn.execute(
        sa.update(C)
        .where(C.c.id == case_id)
        .values(
            state=CaseState(state).value,
            state_reason=reason,
            state_until=until,
            updated_at=now,
            **fields,
        )
    )


async def set_contact_status(
    conn: AsyncConnection,
    contact_id: int,
    status: ContactStatus,
    *,
    now: datetime,
    reason: str | None = None,
    keep: tuple[ContactStatus, ...] = (),
    consent: dict[str, Any] | None = None,
) -> sa.Row[Any] | None:
    """The one writer of a contact point's status. Leaves a point already in `status`, or in one of
    `keep`, as it is; returns the changed point's (case_id, channel), or None when nothing
    changed. Callers write the timeline entry, which says who changed it and why."""
    query = sa.update(CP).where(CP.c.id == contact_id, CP.c.status != ContactStatus(status).value)
    if keep:
        query = query.where(CP.c.status.not_in([ContactStatus(k).value for k in keep]))
    extra = {"consent": consent} if consent is not None else {}
    query = query.values(
        status=ContactStatus(status).value, status_reason=reason, updated_at=now, **extra
    )
    return (await conn.execute(query.returning(CP.c.case_id, CP.c.channel))).first()


async def set_contact_statuses(
    conn: AsyncConnection, changes: Sequence[tuple[int, str, str]], now: datetime
) -> None:
    """Apply what providers told us about contact points (`invalid`, `opted_out`), with a timeline entry."""
    for contact_id, status, reason in changes:
        row = await set_contact_status(
            conn, contact_id, ContactStatus(status), now=now, reason=reason
        )
        if row is not None:
            await timeline.append(
                conn,
                [
                    timeline.entry(
                        row.case_id,
                        f"contact_{status}",
                        now,
                        actor="provider",
                        channel=row.channel,
                        reason=reason,
                    )
                ],
            )


async def get(conn: AsyncConnection, tenant: str, case_ref: str) -> sa.Row[Any] | None:
    return (
        await conn.execute(sa.select(C).where(C.c.tenant == tenant, C.c.case_ref == case_ref))
    ).first()


async def contacts_of(conn: AsyncConnection, case_id: int) -> list[sa.Row[Any]]:
    return list(await conn.execute(sa.select(CP).where(CP.c.case_id == case_id).order_by(CP.c.id)))


async def for_intake(
    conn: AsyncConnection, tenant: str, case_refs: set[str]
) -> dict[str, tuple[Any, list[Any]]]:
    """case_ref → (case row, contact rows) for many cases in two queries."""
    if not case_refs:
        return {}
    rows = list(
        await conn.execute(
            sa.select(
                C.c.id,
                C.c.case_ref,
                C.c.locale,
                C.c.state,
                C.c.debtor,
                C.c.debt,
                C.c.preset,
                C.c.collector_role,
            ).where(C.c.tenant == tenant, C.c.case_ref.in_(sorted(case_refs)))
        )
    )
    by_id = {r.id: r for r in rows}
    contacts: dict[int, list[Any]] = {r.id: [] for r in rows}
    if by_id:
        for cp in await conn.execute(
            sa.select(
                CP.c.id,
                CP.c.case_id,
                CP.c.channel,
                CP.c.address,
                CP.c.status,
                CP.c.postal,
                CP.c.role,
            )
            .where(CP.c.case_id.in_(sorted(by_id)))
            .order_by(CP.c.id)
        ):
            contacts[cp.case_id].append(cp)
    return {r.case_ref: (r, contacts[r.id]) for r in rows}


async def by_contact_address(
    conn: AsyncConnection, channel: str, address: str
) -> list[sa.Row[Any]]:
    """Contact points with this address, newest case first (to thread a reply to its case)."""
    return list(
        await conn.execute(
            sa.select(CP.c.id, CP.c.case_id, C.c.case_ref, C.c.tenant)
            .join(C, C.c.id == CP.c.case_id)
            .where(CP.c.channel == channel, CP.c.address == address)
            .order_by(C.c.updated_at.desc(), CP.c.id.desc())
        )
    )


async def pauses_ended(conn: AsyncConnection, now: datetime, limit: int) -> list[sa.Row[Any]]:
    """Paused cases whose pause is over by `now`, earliest first, held for this transaction on
    PostgreSQL (rows another transaction holds are skipped: that one is changing them)."""
    query = (
        sa.select(C)
        .where(C.c.state == CaseState.PAUSED.value, C.c.state_until <= now)
        .order_by(C.c.state_until, C.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(await conn.execute(query))
