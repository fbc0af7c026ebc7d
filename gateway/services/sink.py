"""The receipt sink given to providers whose receipts arrive outside HTTP (SMPP, bounce mail)."""

from __future__ import annotations

import sqlalchemy as sa

from channels.events import DeliveryEvent, InboundMessage
from gateway.runtime import Runtime
from gateway.services import receipts
from gateway.services.replies import inbound
from gateway.store.tables import messages as M


class DatabaseSink:
    """Stores what a provider reports through the same services as the HTTP callbacks."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    async def events(self, events: list[DeliveryEvent]) -> None:
        if events:
            async with self.rt.engine.begin() as conn:
                await receipts.record(conn, events, self.rt.clock())

    async def inbound(self, messages: list[InboundMessage]) -> None:
        if messages:
            await inbound.receive(self.rt, messages)

    async def message_ref(self, message_id: str) -> tuple[str, str | None] | None:
        """(provider, provider reference) a message was sent under, for bounces that name the
        message (VERP); the reference is None until the send is recorded."""
        async with self.rt.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(M.c.provider, M.c.provider_ref, M.c.state).where(M.c.id == message_id)
                )
            ).first()
        if row is None:
            return None
        if row.provider_ref is None:
            # Still in a worker's hands: the reference is about to be recorded. Otherwise it was
            # never handed over under a reference a receipt could match.
            return ("", None) if row.state in ("dispatching", "sending") else None
        return (row.provider, row.provider_ref)
