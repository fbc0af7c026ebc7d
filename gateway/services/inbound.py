"""Replies from debtors: matched to their case and put on its timeline.

An email reply to a case's reply address (or an auto-reply to a message's VERP return path) goes
to the case its signed token names, whichever mailbox it was written from; the sender's address
is kept as it was. Anything else is matched by the sender's address.

Reading a reply's meaning (STOP, dispute, promise to pay…) is the classifier's job; until it has
run, a reply is stored as `unclassified`. Auto-replies are stored as `auto_reply` and are never
read as the debtor's words. A reply from an unknown sender is kept with no case, for operations
to triage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.email import tokens
from channels.events import InboundMessage
from gateway.api.schemas import normalize_address
from gateway.store import cases as case_store
from gateway.store import timeline
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M
from gateway.store.tables import replies as R

UNCLASSIFIED = "unclassified"
AUTO_REPLY = "auto_reply"


async def record(
    conn: AsyncConnection,
    messages: Sequence[InboundMessage],
    now: datetime,
    *,
    secret: str | None = None,
) -> list[dict[str, Any]]:
    """Store replies and put them on their cases' timelines. `secret` checks email tokens."""
    out = []
    for msg in messages:
        try:
            address = (
                normalize_address(msg.channel, msg.from_addr)
                if msg.channel != "letter"
                else msg.from_addr
            )
        except ValueError:
            address = msg.from_addr
        match = await _by_token(conn, secret, msg, address) if secret else None
        routed_by = "token" if match is not None else "address"
        if match is None:
            matches = await case_store.by_contact_address(conn, msg.channel, address)
            match = matches[0] if matches else None
        category = AUTO_REPLY if msg.raw.get("auto_reply") else UNCLASSIFIED
        result = await conn.execute(
            sa.insert(R)
            .values(
                case_id=match.case_id if match else None,
                contact_id=match.id if match else None,
                channel=msg.channel,
                provider=msg.provider,
                provider_ref=msg.provider_ref,
                from_addr=address,
                to_addr=msg.to_addr,
                body=msg.body,
                category=category,
                received_at=msg.received_at,
                raw=msg.raw,
            )
            .returning(R.c.id)
        )
        reply_id = result.scalar_one()
        if match is not None:
            await timeline.append(
                conn,
                [
                    timeline.entry(
                        match.case_id,
                        "reply_received",
                        now,
                        actor=f"debtor:{msg.channel}",
                        reply_id=reply_id,
                        channel=msg.channel,
                        category=category,
                        routed_by=routed_by,
                        body=msg.body,
                    )
                ],
            )
        out.append({"reply_id": reply_id, "case_ref": match.case_ref if match else None})
    return out


async def _by_token(
    conn: AsyncConnection, secret: str, msg: InboundMessage, address: str
) -> Any | None:
    """The case a signed reply (or VERP) address names, with the sender's contact point on it if
    the sender is one of them; None when the address carries no valid token."""
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
    return (
        await conn.execute(
            sa.select(CP.c.id, C.c.id.label("case_id"), C.c.case_ref)
            .select_from(C)
            .outerjoin(
                CP,
                sa.and_(CP.c.case_id == C.c.id, CP.c.channel == "email", CP.c.address == address),
            )
            .where(C.c.id == case_id)
        )
    ).first()
