"""What a reply does to contact points (compliance §6.6 #1, #7, #9, #19).

- STOP (and "stop texting me"): the sender's address on that channel is `opted_out` on every case
  of the tenant: a debtor who asked this sender to stop texting a number means every debt.
- A wrong number: that address becomes `invalid` everywhere, for the same reason.
- Outside the US, a cease request opts out the debtor's electronic contact points of the case:
  letters continue, and a person decides the rest.
- START / UNSTOP: only an opted-out address comes back (an invalid one stays invalid), with the
  debtor's own message as the consent evidence.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gateway.replies import Category
from gateway.services.replies.run import Run
from gateway.states import ContactStatus
from gateway.store import cases as case_store
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP

G = Category
ELECTRONIC = ("sms", "email")


async def apply(run: Run, jurisdiction: str) -> None:
    """Change the contact points the reply speaks about; record each change on its case."""
    result = run.result
    if result.has(G.WRONG_PARTY):
        await _set_status(run, G.WRONG_PARTY, await same_address(run), ContactStatus.INVALID)
    if result.has(G.OPT_OUT_CHANNEL):
        await _set_status(run, G.OPT_OUT_CHANNEL, await same_address(run), ContactStatus.OPTED_OUT)
    if result.has(G.CEASE_ALL, G.REFUSE_TO_PAY) and jurisdiction != "US":
        category = G.CEASE_ALL if result.has(G.CEASE_ALL) else G.REFUSE_TO_PAY
        rows = await run.conn.execute(
            sa.select(CP)
            .where(
                CP.c.case_id == run.reply.case.id,
                CP.c.channel.in_(ELECTRONIC),
                CP.c.role == "debtor",
            )
            .order_by(CP.c.id)
        )
        await _set_status(run, category, list(rows), ContactStatus.OPTED_OUT)
    if result.has(G.RESUBSCRIBE) and run.reply.contact is not None:
        await _resubscribe(run)


async def same_address(run: Run) -> list[Any]:
    """The contact points a reply speaks for: the sender's address on that channel on every case
    of the tenant; when the sender is not one of the case's points (an email from another
    mailbox, routed by the reply address), the case's points on that channel."""
    reply = run.reply
    if reply.contact is None:
        query = sa.select(CP).where(CP.c.case_id == reply.case.id, CP.c.channel == reply.channel)
    else:
        query = (
            sa.select(CP)
            .join(C, C.c.id == CP.c.case_id)
            .where(
                CP.c.channel == reply.channel,
                CP.c.address == reply.contact.address,
                C.c.tenant == reply.case.tenant,
            )
        )
    return list(await run.conn.execute(query.order_by(CP.c.id)))


async def _set_status(run: Run, category: Category, rows: list[Any], status: ContactStatus) -> None:
    for row in rows:
        # An invalid address stays invalid: opting it out would only make START revive it.
        changed = await case_store.set_contact_status(
            run.conn,
            row.id,
            status,
            now=run.now,
            reason=f"reply:{category.value}",
            keep=(ContactStatus.INVALID,),
        )
        if changed is None:
            continue
        run.changed_contacts.add(row.id)
        run.record(
            category,
            case_id=row.case_id,
            effect=f"contact_{status}",
            contact_id=row.id,
            channel=row.channel,
            previous_status=row.status,
        )


async def _resubscribe(run: Run) -> None:
    evidence = {
        "source": "debtor_reply",
        "reply_id": run.reply.id,
        "keyword": run.result.facts.keyword,
        "at": run.now.isoformat(),
    }
    for row in await same_address(run):
        if row.status != ContactStatus.OPTED_OUT:
            continue
        await case_store.set_contact_status(
            run.conn, row.id, ContactStatus.ACTIVE, now=run.now, consent=evidence
        )
        run.changed_contacts.add(row.id)
        run.record(
            G.RESUBSCRIBE,
            case_id=row.case_id,
            effect="contact_resubscribed",
            contact_id=row.id,
            channel=row.channel,
            consent=evidence,
        )
