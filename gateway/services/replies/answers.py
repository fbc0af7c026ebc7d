"""The gateway's own answers to a debtor's reply: the opt-out confirmation, the HELP reply and the
acknowledgement of a text (compliance §6.5, §6.6 #9, #18). Each goes at most once to a contact
point (channel and address, on any of the tenant's cases) within its window, so a debtor who
texts STOP three times, or an auto-responder answering our answer, gets one message, not a loop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.services import outbound
from gateway.store import templates as template_store
from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M

OPT_OUT_CONFIRMATION = "opt_out_confirmation"
HELP_REPLY = "help_reply"
INBOUND_ACKNOWLEDGEMENT = "inbound_acknowledgement"
# TCPA 64.1200(a)(12): one confirmation within five minutes of the opt-out.
CONFIRMATION_WINDOW = timedelta(minutes=5)
ACTOR = "system:replies"


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer to create: its purpose (= its template key) and how long one suffices."""

    purpose: str
    within: timedelta


async def create(
    conn: AsyncConnection,
    answer: Answer,
    *,
    case: Any,
    contact: Any,
    reply_id: int,
    now: datetime,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Create the answer unless one went to the same address within its window.

    Returns the effect to record (`answer_created` with the message id, or `answer_skipped` with
    why) and the (id, channel) to enqueue after commit."""
    effect: dict[str, Any] = {"purpose": answer.purpose, "channel": contact.channel}
    key = f"reply:{reply_id}:{answer.purpose}"
    # A reply read again (an operator resolving it) is not answered twice.
    given = await _given(conn, key)
    if given is not None:
        reason = "this reply has had this answer already"
        return {**effect, "effect": "answer_skipped", "reason": reason, "earlier": given}, []
    earlier = await _recent(conn, case.tenant, contact, answer.purpose, now - answer.within)
    if earlier is not None:
        minutes = int(answer.within.total_seconds() // 60)
        reason = f"one was created for this contact point in the last {minutes} minutes"
        return {**effect, "effect": "answer_skipped", "reason": reason, "earlier": earlier}, []
    published = await template_store.published(conn)
    template_id = template_store.pick(published, answer.purpose, contact.channel, case.locale)
    if template_id is None:
        reason = f"no published {contact.channel} template {answer.purpose!r}"
        return {**effect, "effect": "answer_skipped", "reason": reason}, []
    row, entry = outbound.accepted(
        outbound.NewMessage(
            tenant=case.tenant,
            case_id=case.id,
            contact_id=contact.id,
            channel=contact.channel,
            template_id=template_id,
            template=answer.purpose,
            purpose=answer.purpose,
            idempotency_key=key,
            request_hash=hashlib.sha256(key.encode()).hexdigest(),
            actor=ACTOR,
            data={"reply_id": reply_id},
            detail={"purpose": answer.purpose, "reply_id": reply_id},
        ),
        now,
    )
    await outbound.insert(conn, [row], [entry])
    return {**effect, "effect": "answer_created", "message_id": row["id"]}, outbound.due([row])


async def _recent(
    conn: AsyncConnection, tenant: str, contact: Any, purpose: str, since: datetime
) -> str | None:
    """The id of a message of this purpose created for this address since `since`, if any."""
    return (
        await conn.execute(
            sa.select(M.c.id)
            .join(CP, CP.c.id == M.c.contact_id)
            .where(
                M.c.tenant == tenant,
                M.c.purpose == purpose,
                M.c.created_at > since,
                CP.c.channel == contact.channel,
                CP.c.address == contact.address,
            )
            .limit(1)
        )
    ).scalar_one_or_none()


async def _given(conn: AsyncConnection, key: str) -> str | None:
    """The id of the answer already created for this reply and purpose, if any."""
    return (
        await conn.execute(
            sa.select(M.c.id).where(M.c.api_key_id.is_(None), M.c.idempotency_key == key).limit(1)
        )
    ).scalar_one_or_none()
