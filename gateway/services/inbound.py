"""Replies from debtors: matched to the case by the sender's address and put on its timeline.

Reading a reply's meaning (STOP, dispute, promise to pay…) is the classifier's job; until it has
run, a reply is stored as `unclassified`. A reply from an unknown sender is kept with no case, for
operations to triage.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.events import InboundMessage
from gateway.api.schemas import normalize_address
from gateway.store import cases as case_store
from gateway.store import timeline
from gateway.store.tables import replies as R

UNCLASSIFIED = "unclassified"


async def record(
    conn: AsyncConnection, messages: Sequence[InboundMessage], now: datetime
) -> list[dict[str, Any]]:
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
        matches = await case_store.by_contact_address(conn, msg.channel, address)
        match = matches[0] if matches else None
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
                category=UNCLASSIFIED,
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
                        category=UNCLASSIFIED,
                        body=msg.body,
                    )
                ],
            )
        out.append({"reply_id": reply_id, "case_ref": match.case_ref if match else None})
    return out
