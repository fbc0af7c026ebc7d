"""What a reply does to its case's state (compliance §6.6 #2–#13, #17), through the same code as
an upstream event (`case_events.change_state`).

A reply asking for several states gets the most restrictive; a reply never makes a case less
restricted than it is: a hold or a cessation is not turned into a pause, a dispute hold not into
nothing, a pause is not shortened. Only a person or an authoritative event releases a case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.errors import Conflict
from gateway.replies import Category, Classification
from gateway.replies.effects import ALREADY_PAID_BUSINESS_DAYS, HOLDS, PAUSES
from gateway.services import case_events
from gateway.services.case_events import Change
from gateway.services.replies.run import Run

G = Category
# How far each case state stops contact.
_HOLD_RANK = {"deceased": 9, "bankruptcy": 8, "legal": 8, "breathing_space": 7, "attorney": 6}
_OTHER_HOLD_RANK, _CEASED_RANK, _DISPUTE_RANK, _PAUSE_RANK = 5, 4, 3, 1


def change_for(
    category: Category, result: Classification, jurisdiction: str, now: datetime
) -> Change | None:
    """The state change one category asks for, or None."""
    if category in HOLDS:
        return Change("hold", hold=HOLDS[category])
    if category is G.DISPUTE:
        return Change("dispute")
    if category in (G.CEASE_ALL, G.REFUSE_TO_PAY):
        # US (Reg F 1006.6(c)): a written refusal or cease request stops contact. Elsewhere it is
        # about how contact happens (see reply_contacts).
        return Change("cease") if jurisdiction == "US" else None
    if category is G.PROMISE_TO_PAY:
        promised = result.facts.promise_date
        return Change("promise_to_pay", promised_date=promised) if promised else None
    if category is G.ALREADY_PAID:
        until = add_business_days(now, ALREADY_PAID_BUSINESS_DAYS)
        return Change("pause", reason="already_paid", until=until)
    if category in PAUSES:
        reason, days = PAUSES[category]
        return Change("pause", reason=reason, until=now + timedelta(days=days))
    return None


def severity(
    state: str, reason: str | None, until: datetime | None, now: datetime
) -> tuple[int, datetime]:
    """How far a case state stops contact: a hold (by kind) above a cessation above a dispute hold
    above a pause (the longer, the more), above nothing."""
    forever = datetime.max.replace(tzinfo=now.tzinfo)
    if state == "hold":
        if reason == "dispute":
            return _DISPUTE_RANK, forever
        return _HOLD_RANK.get(reason or "", _OTHER_HOLD_RANK), forever
    if state == "ceased":
        return _CEASED_RANK, forever
    if state == "paused" and until is not None and until > now:
        return _PAUSE_RANK, until
    return 0, now


def add_business_days(start: datetime, days: int) -> datetime:
    """`days` weekdays after `start`, at the same time of day (weekends skipped; holidays not)."""
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


async def apply(run: Run, jurisdiction: str) -> None:
    """Apply the most restrictive state change the reply asks for (and make the case's waiting
    messages due when it changes).
    Every category that asked for one gets a timeline entry saying what became of it."""
    case, now = run.reply.case, run.now
    wanted = [
        (category, change)
        for category in run.result.categories
        if (change := change_for(category, run.result, jurisdiction, now)) is not None
    ]
    if not wanted:
        return
    if case.state == "closed":
        for category, _ in wanted:
            run.record(category, effect="case_state_kept", state="closed", reason="case closed")
        return
    ranked = sorted(
        wanted,
        key=lambda item: severity(*case_events.next_state(item[1], case), now),
        reverse=True,
    )
    (best_category, best), rest = ranked[0], ranked[1:]
    for category, _ in rest:
        run.record(category, effect="case_state_kept", reason=f"outranked by {best_category}")
    target = case_events.next_state(best, case)
    if severity(*target, now) <= severity(case.state, case.state_reason, case.state_until, now):
        run.record(
            best_category,
            effect="case_state_kept",
            state=case.state,
            reason="the case is already held, ceased or paused at least as long",
        )
        return
    try:
        changed = await case_events.change_state(
            run.conn,
            case,
            best,
            now=now,
            kind="reply_effect",
            cadences=run.cadences,
            effect="case_state",
            promised_date=best.promised_date.isoformat() if best.promised_date else None,
            **run.about(best_category),
        )
    except Conflict:  # closed meanwhile
        return
    run.outcome.due.extend(changed.due)
    run.outcome.effects.append(
        {
            "category": best_category.value,
            "effect": "case_state",
            "state": target[0],
            "state_reason": target[1],
        }
    )
