"""A debtor who tells us when or how to reach them (§6.6 #14, #15): "not before noon", "weekends
only", "email me instead". What the reply states is merged into the case's restrictions, which
the policy applies to every later decision (`personal.hours`, `personal.channel`), and the case's
waiting messages are re-decided at once. What cannot be read is left to a person (the reply is
flagged for review either way, so someone can check what was read)."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.replies import Category
from gateway.replies.preferences import stated_restrictions
from gateway.services.replies.run import Run
from gateway.store import messages as message_store
from gateway.store.tables import cases as C
from gateway.store.tables import messages as M

G = Category


async def apply(run: Run) -> None:
    result = run.result
    time, channel = result.has(G.TIME_PREFERENCE), result.has(G.CHANNEL_PREFERENCE)
    if not (time or channel):
        return
    category = G.TIME_PREFERENCE if time else G.CHANNEL_PREFERENCE
    stated = stated_restrictions(run.reply.body, time=time, channel=channel)
    if not stated:
        run.record(
            category,
            effect="restrictions_unread",
            reason="no hours, days or channels could be read; a person records them",
        )
        return
    case = run.reply.case
    merged = {**(case.restrictions or {}), **stated}
    await run.conn.execute(
        sa.update(C).where(C.c.id == case.id).values(restrictions=merged, updated_at=run.now)
    )
    run.outcome.due.extend(await message_store.make_due(run.conn, M.c.case_id == case.id, run.now))
    run.record(category, effect="restrictions", stated=stated, restrictions=merged)
