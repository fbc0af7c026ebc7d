"""Which case a reply is about, and which of its contact points wrote it.

In order: the case an operator recorded it on (a letter, a call); the case a signed reply or
VERP address names (email), whichever mailbox it was written from; else the sender's address on
the tenant's cases — the tenant the receiving address is named for (`gateway.reply_tenants`),
or any tenant when it is named for none — newest case first.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.email import tokens
from channels.events import InboundMessage
from gateway.store import cases as case_store
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M

# Where a recorded reply's sender is looked for among the case's contact points.
CONTACT_CHANNEL = {"sms": "sms", "email": "email", "letter": "letter"}


async def match(
    conn: AsyncConnection,
    secret: str,
    msg: InboundMessage,
    address: str,
    *,
    case_id: int | None,
    tenant: str | None,
) -> tuple[Any | None, str]:
    """(`{id: contact point or None, case_id, case_ref}` or None, how it was found)."""
    if case_id is not None:
        return await on_case(conn, case_id, CONTACT_CHANNEL.get(msg.channel), address), "operator"
    found = await _by_token(conn, secret, msg) if secret else None
    if found is not None:
        return await on_case(conn, found, "email", address), "token"
    matches = [
        m
        for m in await case_store.by_contact_address(conn, msg.channel, address)
        if tenant is None or m.tenant == tenant
    ]
    return (matches[0] if matches else None), "address"


async def on_case(conn: AsyncConnection, case_id: int, channel: str | None, address: str) -> Any:
    """The case, with the sender's contact point on it when the sender is one of them."""
    return (
        await conn.execute(
            sa.select(CP.c.id, C.c.id.label("case_id"), C.c.case_ref)
            .select_from(C)
            .outerjoin(
                CP,
                sa.and_(CP.c.case_id == C.c.id, CP.c.channel == channel, CP.c.address == address),
            )
            .where(C.c.id == case_id)
            .order_by(CP.c.id)
            .limit(1)
        )
    ).first()


async def case(conn: AsyncConnection, case_id: int) -> Any:
    return (await conn.execute(sa.select(C).where(C.c.id == case_id))).first()


async def contact(conn: AsyncConnection, contact_id: int | None) -> Any | None:
    if contact_id is None:
        return None
    return (await conn.execute(sa.select(CP).where(CP.c.id == contact_id))).first()


async def _by_token(conn: AsyncConnection, secret: str, msg: InboundMessage) -> int | None:
    """The id of the case a signed reply (or VERP) address names; None when the address carries
    no valid token."""
    if msg.channel != "email":
        return None
    case_id = tokens.case_of_reply_address(secret, msg.to_addr)
    if case_id is None:
        message_id = tokens.message_of_bounce_address(secret, msg.to_addr)
        if message_id is None:
            return None
        case_id = (
            await conn.execute(sa.select(M.c.case_id).where(M.c.id == message_id))
        ).scalar_one_or_none()
    if case_id is None:
        return None
    exists = await conn.execute(sa.select(C.c.id).where(C.c.id == case_id))
    return case_id if exists.first() is not None else None
