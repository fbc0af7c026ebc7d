"""A debtor's contact history across all their cases, for frequency caps.

The debtor is known by their personal contact identities: any case sharing a phone number or an
email address with this case is the same person for counting purposes. Postal addresses are left
out on purpose: a household or a building shares one, and capping every resident together would
silence people who are not the debtor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M
from gateway.store.tables import replies as R
from scheduler.decisions import Touch
from scheduler.zones import remember

# The least history ever read; the caller passes the longest window its presets' caps need.
HORIZON = timedelta(days=31)
PERSONAL = ("sms", "email")
# A third party's number on a case (an emergency contact) is not the debtor's identity: it would
# merge their history with the debtor's.
DEBTOR = "debtor"


async def identities(conn: AsyncConnection, case_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """case id → the contact addresses that identify its debtor."""
    ids = sorted(set(case_ids))
    out: dict[int, set[str]] = defaultdict(set)
    if ids:
        # By case alone, filtered here: the only index that condition fits is the case's own
        # (case_id, channel, address), whatever the table's statistics say. With the channel in
        # the query too, a table of fresh imports not yet analysed was read through the
        # (channel, address) index instead, every contact point of the channel for each batch.
        # A phone's zones, read when it was stored, spare the policy parsing it again.
        query = sa.select(CP.c.case_id, CP.c.channel, CP.c.role, CP.c.address, CP.c.zones)
        for r in await conn.execute(query.where(CP.c.case_id.in_(ids))):
            if r.channel in PERSONAL and r.role == DEBTOR:
                out[r.case_id].add(r.address)
                if r.zones is not None:
                    remember(r.address, r.zones)
    return {i: frozenset(out.get(i, ())) for i in ids}


async def touches(
    conn: AsyncConnection, addresses: Iterable[str], now: datetime, horizon: timedelta = HORIZON
) -> dict[str, list[tuple[str, Touch]]]:
    """address → [(message id, touch)] of every attempted message of every case carrying that
    address, over `horizon` (the longest cap window, at least `HORIZON`)."""
    wanted = sorted(set(addresses))
    if not wanted:
        return {}
    # By (channel, address), the index's order: phone numbers are E.164, the rest email.
    phones = [a for a in wanted if a.startswith("+")]
    emails = [a for a in wanted if not a.startswith("+")]
    points = sa.or_(
        sa.and_(CP.c.channel == "sms", CP.c.address.in_(phones)),
        sa.and_(CP.c.channel == "email", CP.c.address.in_(emails)),
    )
    case_addresses: dict[int, set[str]] = defaultdict(set)
    for r in await conn.execute(
        sa.select(CP.c.case_id, CP.c.address).where(points, CP.c.role == DEBTOR)
    ):
        case_addresses[r.case_id].add(r.address)
    if not case_addresses:
        return {}
    rows = await conn.execute(
        sa.select(M.c.id, M.c.case_id, M.c.channel, M.c.purpose, M.c.attempted_at).where(
            M.c.case_id.in_(sorted(case_addresses)),
            M.c.attempted_at >= now - max(horizon, HORIZON),
        )
    )
    out: dict[str, list[tuple[str, Touch]]] = defaultdict(list)
    for m in rows:
        touch = Touch(m.channel, m.attempted_at, m.purpose)
        for address in case_addresses[m.case_id]:
            out[address].append((m.id, touch))
    return out


def for_debtor(
    by_address: dict[str, list[tuple[str, Touch]]], identity: frozenset[str], excluding: str = ""
) -> list[Touch]:
    """The touches of one debtor, each once even when several of their addresses lead to it.
    `excluding` leaves out one message's own earlier attempts: a retry is the same touch."""
    seen: dict[str, Touch] = {}
    for address in identity:
        for message_id, touch in by_address.get(address, ()):
            if message_id != excluding:
                seen[message_id] = touch
    return list(seen.values())


ANSWERS = ("inbound_acknowledgement", "reply_to_inbound")


async def inbound_facts(
    conn: AsyncConnection, contact_ids: Iterable[int]
) -> dict[int, tuple[datetime, int, int]]:
    """contact id → (when it last wrote to us, acknowledgements and replies attempted to it since)
    for the contact points that ever wrote to us (the inbound grace of compliance §6.5)."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    last = {
        r.contact_id: r.at
        for r in await conn.execute(
            sa.select(R.c.contact_id, sa.func.max(R.c.received_at).label("at"))
            .where(R.c.contact_id.in_(ids))
            .group_by(R.c.contact_id)
        )
    }
    out = {cid: (at, 0, 0) for cid, at in last.items()}
    if not last:
        return out
    for m in await conn.execute(
        sa.select(M.c.contact_id, M.c.purpose, M.c.attempted_at).where(
            M.c.contact_id.in_(sorted(last)),
            M.c.purpose.in_(ANSWERS),
            M.c.attempted_at.is_not(None),
        )
    ):
        at, acks, replies = out[m.contact_id]
        if m.attempted_at >= at:
            acks += m.purpose == "inbound_acknowledgement"
            replies += m.purpose == "reply_to_inbound"
            out[m.contact_id] = (at, acks, replies)
    return out
