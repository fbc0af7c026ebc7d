"""One-click unsubscribe (RFC 8058): the email address a message went to is opted out of email."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.errors import NotFound
from gateway.runtime import Runtime
from gateway.states import ContactStatus
from gateway.store import cases as case_store
from gateway.store import timeline
from gateway.store.tables import messages as M


async def opt_out(rt: Runtime, message_id: str) -> None:
    """Opt out the contact point of `message_id` (once: a second click changes nothing)."""
    now = rt.clock()
    async with rt.engine.begin() as conn:
        row = (
            await conn.execute(sa.select(M.c.case_id, M.c.contact_id).where(M.c.id == message_id))
        ).first()
        if row is None:
            raise NotFound("unknown link", code="unknown_message")
        changed = await case_store.set_contact_status(
            conn, row.contact_id, ContactStatus.OPTED_OUT, now=now, reason="one-click unsubscribe"
        )
        if changed is not None:
            entry = timeline.entry(
                row.case_id,
                "opted_out",
                now,
                message_id=message_id,
                actor="debtor:email",
                channel="email",
                source="list-unsubscribe",
            )
            await timeline.append(conn, [entry])
