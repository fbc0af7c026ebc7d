"""What a debtor's reply does (compliance.md §6.6), applied in the transaction that records it,
so before anything else is sent:

1. contact points opted out, invalidated or re-enabled (`contacts`);
2. the case held, ceased or paused, the most restrictive state winning (`state`);
3. every waiting message of what changed made due now, so the policy re-decides it before its
   next attempt;
4. the gateway's own answers: the opt-out confirmation, the HELP reply, the acknowledgement of a
   text (`answers`);
5. the reply flagged for operations when a person must act or the reading is unsure.

An operator resolving a reply from the inbox (`inbox`) applies its category through the same
steps, as the actor, with nothing flagged again: a person has just read it.

Each effect is a `reply_effect` entry on the case timeline naming the category, the classifier
version, the rules that matched and the basis; the list is also kept on the reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.replies import Category, Classification
from gateway.replies.blend import REVIEW_THRESHOLD
from gateway.replies.effects import (
    NO_ACKNOWLEDGEMENT,
    REPEAT_WINDOW_HOURS,
    REVIEW,
    UNKNOWN_REVIEW_CHARS,
)
from gateway.services.replies import answers, contacts, restrictions, state
from gateway.services.replies.run import Outcome, Reply, Run
from gateway.store import messages as message_store
from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M
from gateway.store.tables import replies as R
from scheduler.cadence import Cadence
from scheduler.presets import Preset

G = Category
DEFAULT_GRACE_MINUTES = 30  # compliance §6.5, when a case's preset is unknown


async def apply(
    conn: AsyncConnection,
    reply: Reply,
    result: Classification,
    preset: Preset | None,
    now: datetime,
    *,
    cadences: Mapping[str, Cadence],
    actor: str = answers.ACTOR,
) -> Outcome:
    """Apply every effect of a classified reply on its matched case (see the module docstring);
    `cadences`: the runtime's, for the case's running cadence; `actor` is an operator's when a
    person read the reply."""
    run = Run(conn, reply, result, now, cadences, actor=actor)
    if reply.contact is not None:
        # Replies from one contact point are acted on one at a time (a row lock on PostgreSQL;
        # SQLite has one writer), so two STOPs racing still make one confirmation.
        await conn.execute(
            sa.update(CP).where(CP.c.id == reply.contact.id).values(updated_at=CP.c.updated_at)
        )
    jurisdiction = preset.jurisdiction if preset is not None else ""
    await contacts.apply(run, jurisdiction)
    await run.flush()
    await state.apply(run, jurisdiction)  # makes the case's waiting messages due
    await restrictions.apply(run)  # the hours and channels the debtor asked for
    await _make_due(run)
    await _answers(run, preset)
    if actor == answers.ACTOR:
        await _review(run)
    await run.flush()
    return run.outcome


async def _make_due(run: Run) -> None:
    """Waiting messages of every changed contact point are re-decided now: due at once, and
    enqueued after commit."""
    if run.changed_contacts:
        changed = M.c.contact_id.in_(sorted(run.changed_contacts))
        run.outcome.due.extend(await message_store.make_due(run.conn, changed, run.now))


async def _answers(run: Run, preset: Preset | None) -> None:
    result, reply = run.result, run.reply
    contact = await _current(run.conn, reply.contact)
    # Nothing more to a wrong number or to the number of someone who died (§6.6 #1, #5).
    if contact is None or result.has(G.WRONG_PARTY, G.DECEASED):
        return
    wanted: list[tuple[Category, answers.Answer]] = []
    if result.has(G.OPT_OUT_CHANNEL):
        if contact.status == "opted_out":
            confirmation = answers.Answer(answers.OPT_OUT_CONFIRMATION, answers.CONFIRMATION_WINDOW)
            wanted.append((G.OPT_OUT_CHANNEL, confirmation))
    elif contact.status == "active":
        if result.has(G.HELP):
            wanted.append((G.HELP, answers.Answer(answers.HELP_REPLY, answers.CONFIRMATION_WINDOW)))
        if reply.channel == "sms" and _calls_for_an_answer(run):
            grace = preset.inbound_reply_grace.within_minutes if preset else DEFAULT_GRACE_MINUTES
            ack = answers.Answer(answers.INBOUND_ACKNOWLEDGEMENT, timedelta(minutes=grace))
            wanted.append((result.primary, ack))
    for category, answer in wanted:
        effect, due = await answers.create(
            run.conn, answer, case=reply.case, contact=contact, reply_id=reply.id, now=run.now
        )
        run.record(category, **effect)
        run.outcome.due.extend(due)


def _calls_for_an_answer(run: Run) -> bool:
    """Whether the debtor's text gets a "we got your message" (§6.5)."""
    if run.result.has(*NO_ACKNOWLEDGEMENT):
        return False
    case = run.reply.case
    # A case closed, ceased, or held for a death or a representative is not written to again.
    return case.state not in ("closed", "ceased") and (case.state, case.state_reason) not in {
        ("hold", "deceased"),
        ("hold", "attorney"),
    }


async def _current(conn: AsyncConnection, contact: Any | None) -> Any | None:
    """The contact point as the effects left it."""
    if contact is None:
        return None
    return (await conn.execute(sa.select(CP).where(CP.c.id == contact.id))).first()


async def _review(run: Run) -> None:
    result = run.result
    reasons = [f"{c.value} needs a person" for c in result.categories if c in REVIEW]
    if result.has(G.PROMISE_TO_PAY) and result.facts.promise_date is None:
        reasons.append("promise to pay without a date")
    if result.primary is not G.UNKNOWN and result.confidence < REVIEW_THRESHOLD:
        reasons.append(f"low confidence ({result.confidence:.2f})")
    # What only the statistical model read, unsure or too costly to act on unconfirmed (§6.6).
    reasons.extend(f"model read {c.value} ({p:.2f}), to confirm" for c, p in result.doubts)
    if result.primary is G.UNKNOWN:
        if len(run.reply.body.strip()) > UNKNOWN_REVIEW_CHARS:
            reasons.append("not understood")
        elif await _repeated_unknown(run):
            reasons.append("not understood, again")
    if reasons:
        run.outcome.review.extend(reasons)
        run.record(result.primary, effect="review", reasons=reasons)


async def _repeated_unknown(run: Run) -> bool:
    """Whether the sender already wrote something not understood in the last day."""
    if run.reply.contact is None:
        return False
    since = run.now - timedelta(hours=REPEAT_WINDOW_HOURS)
    found = await run.conn.execute(
        sa.select(R.c.id)
        .where(
            R.c.contact_id == run.reply.contact.id,
            R.c.id != run.reply.id,
            R.c.category == G.UNKNOWN.value,
            R.c.received_at >= since,
        )
        .limit(1)
    )
    return found.first() is not None
