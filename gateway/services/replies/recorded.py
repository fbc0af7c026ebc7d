"""Replies received outside the gateway — a letter, a phone call, a mail to a collector's own
mailbox — recorded by an operator on their case, then read and acted on by the inbound path
(`inbound.record`) exactly as a reply that came through a provider: classified (its dates read
from the day it was received), its effects applied now, on the case timeline, told upstream, and
in the inbox when a person must look."""

from __future__ import annotations

from channels.events import InboundMessage
from gateway.errors import NotFound, ValidationFailed
from gateway.runtime import Runtime
from gateway.schemas.replies import ReplyOut, ReplyRecordIn
from gateway.services import outbound
from gateway.services.replies import inbound
from gateway.services.replies.inbox import actor_of, fetch, out
from gateway.store import cases as case_store
from gateway.store.keys import ApiKey

PROVIDER = "operator"  # replies.provider of what a person recorded


async def record(rt: Runtime, key: ApiKey, case_ref: str, body: ReplyRecordIn) -> ReplyOut:
    """Record a reply received by letter, phone or elsewhere on the case, read and acted on as
    an inbound one."""
    now, actor = rt.clock(), actor_of(key)
    received = body.received_at or now
    if received > now:
        raise ValidationFailed(
            "received_at is in the future",
            details=[{"field": "received_at", "problem": "after now", "type": "value_error"}],
        )
    message = InboundMessage(
        provider=PROVIDER,
        channel=body.channel,
        from_addr=body.from_ or "",
        to_addr="",
        body=body.body,
        provider_ref=None,
        received_at=received,
        raw={"recorded_by": actor},
    )
    async with rt.engine.begin() as conn:
        case = await case_store.get(conn, key.tenant, case_ref)
        if case is None:
            raise NotFound(f"no case {case_ref!r}", code="unknown_case")
        recorded = await inbound.record(
            conn, rt, [message], now, case_id=case.id, recorded_by=actor
        )
        row = await fetch(conn, key, recorded.replies[0]["reply_id"])
    await outbound.enqueue(rt, recorded.due)
    return out(row)
