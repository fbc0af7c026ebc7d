"""The contact policy engine: a pure function from facts and `now` to one decision.

No database, Redis or clock in here: the caller gathers the facts and passes the time. Rules run
in the order of the compliance spec (§6.1) and the first blocking rule wins:

1. legal holds (case state: hold kinds, ceased, closed; pauses) — with the purposes each state
   still lets through, from the preset;
2. channel eligibility: opted-out or invalid contact points, third parties;
3. (recipient identity: contact points are the debtor's unless marked `third_party`);
4. the contact window in every candidate zone of the debtor, and the caller's `not_before`;
5. personal restrictions: the hours, days and channels the debtor asked for;
6. frequency caps — decided by the caller with `scheduler.caps.check` under a per-debtor lock;
7. the content gate — decided on the rendered message with `scheduler.content`.

Whatever the rules answer, `bounded()` (scheduler/deferral.py) turns a deferral that would miss
more than the preset's maximum of open contact-window time into a drop (§6.1 "Deferral
policy"), so waiting messages never pile up into a burst; hours the window is closed anyway
(nights, closed days, holidays) do not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from scheduler import personal, windows
from scheduler.caps import CapPolicy
from scheduler.caps import check as check_caps
from scheduler.decisions import (
    ALLOW,
    IMMEDIATE_ANSWERS,
    PAUSED_BY_PAUSE,
    WINDOWED,
    CaseFacts,
    ContactFacts,
    Decision,
    MessageFacts,
    Touch,
    Verdict,
    nowhere,
)
from scheduler.deferral import MAX_DEFER_RULE, bounded, expiry
from scheduler.presets import Preset
from scheduler.windows import next_allowed

__all__ = [
    "ALLOW",
    "MAX_DEFER_RULE",
    "CaseFacts",
    "ContactFacts",
    "Decision",
    "MessageFacts",
    "Verdict",
    "bounded",
    "decide",
    "pipeline",
    "expiry",
    "send_by",
]


HOLD_STATES = ("hold", "ceased", "closed")
# Rules decided in the debtor's candidate zones.
ZONED_RULES = ("window.", "personal.hours")


def decide(
    message: MessageFacts,
    case: CaseFacts,
    contact: ContactFacts,
    now: datetime,
    preset: Preset | None = None,
) -> Decision:
    """ALLOW, or the first rule that blocks this message at `now`, tagged with the preset.

    Frequency caps are not decided here: they need the debtor's history read under a per-debtor
    lock, so the dispatcher applies `scheduler.caps.check` inside that lock."""
    decision = (
        _legal_holds(message, case, now, preset)
        or _eligibility(message, contact, preset)
        or _inbound_grace(message, contact, now, preset)
        or _not_before(message, now)
        or _window(message, case, contact, now, preset)
        or _personal(message, case, now, preset)
        or ALLOW
    )
    if decision is ALLOW or preset is None:
        return decision
    # A window decision is only as narrow as the zones it was made in: say when they are wide.
    note = case.zones_note if decision.rule.startswith(ZONED_RULES) else ""
    return replace(decision, preset=preset.name, preset_version=preset.version, zones_note=note)


def pipeline(
    message: MessageFacts,
    case: CaseFacts,
    contact: ContactFacts,
    now: datetime,
    preset: Preset | None,
    *,
    caps: CapPolicy | None = None,
    history: Sequence[Touch] | None = None,
) -> Decision:
    """The rules of §6.1 in their order, for the dispatcher and `POST /v1/policy/evaluate` alike:
    `decide()`, then the frequency caps over the debtor's `history` (their touches across cases).

    Without `history` the caps are left undecided: the dispatcher screens a batch that way before
    rendering, then asks again with the history it read under the per-debtor lock. The content
    gate (step 7) needs the rendered message and is the caller's; the maximum deferral
    (`bounded`) is applied by whoever acts on the answer."""
    decision = decide(message, case, contact, now, preset)
    if decision.verdict is not Verdict.ALLOW or history is None or caps is None or preset is None:
        return decision
    purpose = cap_purpose(message, contact, now, preset)
    capped = check_caps(message.channel, purpose, history, now, caps, preset.name)
    return decision if capped is None else replace(capped, preset_version=preset.version)


def _legal_holds(
    message: MessageFacts, case: CaseFacts, now: datetime, preset: Preset | None
) -> Decision | None:
    if case.state in HOLD_STATES:
        kind = case.state_reason if case.state == "hold" and case.state_reason else case.state
        rule = preset.hold_rule(case.state, case.state_reason) if preset else None
        if rule is not None and message.purpose in rule.allow:
            return None
        verdict = (
            Verdict.REVIEW
            if rule is not None and message.purpose in rule.review
            else Verdict.SUPPRESS
        )
        state = "on hold" if case.state == "hold" else case.state
        reason = f"case {state} ({case.state_reason})" if case.state_reason else f"case {state}"
        if verdict is Verdict.REVIEW:
            reason += f"; a {message.purpose.replace('_', ' ')} needs a person's review"
        return Decision(verdict, rule=f"hold.{kind}", reason=reason)
    if (
        case.state == "paused"
        and case.state_until is not None
        and case.state_until > now
        and message.purpose in PAUSED_BY_PAUSE
    ):
        return Decision(
            Verdict.DEFER,
            rule="hold.paused",
            reason=case.state_reason or "paused",
            until=case.state_until,
        )
    return None


def _eligibility(
    message: MessageFacts, contact: ContactFacts, preset: Preset | None
) -> Decision | None:
    if contact.role == "third_party":
        policy = preset.thirdparty.value if preset else "deny"
        return Decision(
            Verdict.SUPPRESS,
            rule=f"thirdparty.{policy}",
            reason="the contact point belongs to a third party, not the debtor",
        )
    if contact.status == "opted_out" and message.purpose == "opt_out_confirmation":
        return None  # the one confirmation of the opt-out itself goes to the opted-out point
    if contact.status != "active":
        return Decision(
            Verdict.SUPPRESS,
            rule=f"channel.{contact.status}",
            reason=f"contact point {contact.status}",
        )
    return None


def _inbound_grace(
    message: MessageFacts, contact: ContactFacts, now: datetime, preset: Preset | None
) -> Decision | None:
    """One acknowledgement per inbound message, and only while the debtor's message is fresh."""
    if message.purpose != "inbound_acknowledgement" or preset is None:
        return None
    grace_minutes = preset.inbound_reply_grace.within_minutes
    grace = timedelta(minutes=grace_minutes)
    if contact.last_inbound_at is None or now - contact.last_inbound_at > grace:
        return Decision(
            Verdict.SUPPRESS,
            rule="inbound_reply.grace",
            reason=f"no message from this contact point in the last {grace_minutes} min",
        )
    if contact.acknowledged_since_inbound:
        return Decision(
            Verdict.SUPPRESS,
            rule="inbound_reply.grace",
            reason="the debtor's last message was already acknowledged",
        )
    return None


def _not_before(message: MessageFacts, now: datetime) -> Decision | None:
    if message.not_before is not None and message.not_before > now:
        return Decision(
            Verdict.DEFER, rule="message.not_before", reason="not before", until=message.not_before
        )
    return None


def _window(
    message: MessageFacts,
    case: CaseFacts,
    contact: ContactFacts,
    now: datetime,
    preset: Preset | None,
) -> Decision | None:
    """Electronic messages go out only inside every candidate zone's local window (§6.4);
    answers the debtor asked for by writing to us go at once (§6.5)."""
    if preset is None or message.channel not in WINDOWED or message.purpose in IMMEDIATE_ANSWERS:
        return None
    zones = list(case.zones) or preset.fallback_zones
    nxt = next_allowed(zones, message.channel, preset, now)
    where = ", ".join(zones)
    if nxt is None:
        return nowhere(
            preset.on_empty_intersection,
            f"window.{message.channel}",
            f"no common contact window in {where}",
        )
    if nxt > now:
        return Decision(
            Verdict.DEFER,
            rule=f"window.{message.channel}",
            until=nxt,
            reason=f"outside the contact window in {where}",
        )
    return None


def _personal(
    message: MessageFacts, case: CaseFacts, now: datetime, preset: Preset | None
) -> Decision | None:
    if preset is None or case.restrictions is None:
        return None
    zones = list(case.zones) or preset.fallback_zones
    return personal.check(message, case.restrictions, zones, now, preset)


def send_by(
    message: MessageFacts, case: CaseFacts, now: datetime, preset: Preset | None
) -> datetime | None:
    """For a message allowed at `now`: the instant its window (the debtor's own hours included)
    closes, by which it must have been handed to a provider; None when no window applies. A
    worker that waits for a rate-limit token past it puts the message back to be decided again."""
    if preset is None or message.channel not in WINDOWED or message.purpose in IMMEDIATE_ANSWERS:
        return None
    zones = list(case.zones) or preset.fallback_zones
    r = case.restrictions
    if r is not None and (r.hours is not None or r.days is not None):
        preset = personal.narrowed(preset, r)
    return windows.send_by(zones, message.channel, preset, now)


def cap_purpose(message: MessageFacts, contact: ContactFacts, now: datetime, preset: Preset) -> str:
    """The purpose the frequency caps see: a reply to the debtor's own message is exempt only
    inside the inbound grace (at most `max_replies` within `within_minutes`, §6.5); later, it
    counts as a proactive touch like any other."""
    if message.purpose != "reply_to_inbound":
        return message.purpose
    grace = preset.inbound_reply_grace
    fresh = (
        contact.last_inbound_at is not None
        and now - contact.last_inbound_at <= timedelta(minutes=grace.within_minutes)
        and contact.replies_since_inbound < grace.max_replies
    )
    return message.purpose if fresh else "reminder"
