"""The receipt sink given to providers whose receipts arrive outside HTTP (SMPP, bounce mail)."""

from __future__ import annotations

from channels.events import DeliveryEvent, InboundMessage
from gateway.bootstrap import Runtime
from gateway.services import inbound, receipts


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
            async with self.rt.engine.begin() as conn:
                await inbound.record(conn, messages, self.rt.clock())
