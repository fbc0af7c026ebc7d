"""REROUTE(letter): an electronic message with no lawful moment to go becomes a letter.

When the debtor's candidate zones share no contact window (compliance §6.4 step 6), the preset
may send the reminder by post instead — the same template key, on the letter channel, to the
case's postal address. Without a published letter version or an active postal address there is
nothing to reroute to, and the message goes to a person (REVIEW) instead.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.services import outbound
from gateway.store import templates as template_store
from gateway.store.tables import contact_points as CP
from scheduler.decisions import Decision, Verdict


async def to_letter(
    conn: AsyncConnection,
    row: Any,
    key: str,
    published: dict[tuple[str, str, str], int],
    decision: Decision,
    now: datetime,
) -> tuple[Decision, dict[str, Any]]:
    """Create the letter for a rerouted message (`key`: its template's key; `published`: the
    published versions, read once per batch); return the decision to record and the extra
    timeline data (`rerouted_to`), or a REVIEW decision when no letter can be made."""
    template_id = template_store.pick(published, key, "letter", row.locale)
    postal = (
        await conn.execute(
            sa.select(CP.c.id).where(
                CP.c.case_id == row.case_id, CP.c.channel == "letter", CP.c.status == "active"
            )
        )
    ).scalar()
    if template_id is None or postal is None:
        missing = "letter version of the template" if template_id is None else "postal address"
        review = replace(
            decision,
            verdict=Verdict.REVIEW,
            channel=None,
            reason=f"{decision.reason}; no {missing} to reroute to",
        )
        return review, {}
    letter = outbound.NewMessage(
        tenant=row.tenant,
        case_id=row.case_id,
        contact_id=postal,
        channel="letter",
        template_id=template_id,
        template=key,
        purpose=row.purpose,
        idempotency_key=f"reroute:{row.id}",
        request_hash=row.id,
        actor="policy",
        api_key_id=row.api_key_id,
        data=row.data,
        detail={"rerouted_from": row.id},
    )
    message, entry = outbound.accepted(letter, now)
    await outbound.insert(conn, [message], [entry])
    return decision, {"rerouted_to": message["id"]}
