"""The contact policy engine: a pure function from facts and `now` to one decision.

No database, Redis or clock in here: the caller gathers the facts and passes the time. Rules run
in the order of the compliance spec (§6.1) and the first blocking rule wins.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.decisions import (
    ALLOW,
    CaseFacts,
    ContactFacts,
    Decision,
    MessageFacts,
    Verdict,
)
from scheduler.presets import Preset
from scheduler.windows import next_allowed

__all__ = [
    "ALLOW",
    "CaseFacts",
    "ContactFacts",
    "Decision",
    "MessageFacts",
    "Verdict",
    "decide",
]


HOLD_STATES = ("hold", "ceased", "closed")


def decide(
    message: MessageFacts,
    case: CaseFacts,
    contact: ContactFacts,
    now: datetime,
    preset: Preset | None = None,
) -> Decision:
    """ALLOW, or the first rule that blocks this message at `now`.

    Frequency caps are not decided here: they need the debtor's history read under a per-debtor
    lock, so the dispatcher applies `scheduler.caps.check` inside that lock."""
    for rule in (_legal_holds, _eligibility, _not_before):
        decision = rule(message, case, contact, now)
        if decision is not None:
            return decision
    if preset is not None:
        decision = _window(message, case, preset, now)
        if decision is not None:
            return decision
    return ALLOW


def _legal_holds(
    message: MessageFacts, case: CaseFacts, contact: ContactFacts, now: datetime
) -> Decision | None:
    if case.state in HOLD_STATES:
        kind = f"{case.state}.{case.state_reason}" if case.state_reason else case.state
        return Decision(Verdict.SUPPRESS, rule=f"hold.{case.state}", reason=kind)
    if case.state == "paused" and case.state_until is not None and case.state_until > now:
        return Decision(
            Verdict.DEFER,
            rule="hold.paused",
            reason=case.state_reason or "paused",
            until=case.state_until,
        )
    return None


def _eligibility(
    message: MessageFacts, case: CaseFacts, contact: ContactFacts, now: datetime
) -> Decision | None:
    if contact.status != "active":
        return Decision(
            Verdict.SUPPRESS,
            rule=f"channel.{contact.status}",
            reason=f"contact point {contact.status}",
        )
    return None


WINDOWED = ("sms", "email")


def _window(
    message: MessageFacts, case: CaseFacts, preset: Preset, now: datetime
) -> Decision | None:
    """Electronic messages go out only inside every candidate zone's local window (§6.4)."""
    if message.channel not in WINDOWED:
        return None
    zones = list(case.zones) or preset.fallback_zones
    nxt = next_allowed(zones, message.channel, preset, now)
    where = ", ".join(zones)
    if nxt is None:
        verdict = (
            Verdict.REROUTE if preset.on_empty_intersection == "reroute_letter" else Verdict.REVIEW
        )
        return Decision(
            verdict,
            rule=f"window.{message.channel}",
            preset=preset.name,
            reason=f"no common contact window in {where}",
            channel="letter" if verdict is Verdict.REROUTE else None,
        )
    if nxt > now:
        return Decision(
            Verdict.DEFER,
            rule=f"window.{message.channel}",
            preset=preset.name,
            until=nxt,
            reason=f"outside the contact window in {where}",
        )
    return None


def _not_before(
    message: MessageFacts, case: CaseFacts, contact: ContactFacts, now: datetime
) -> Decision | None:
    if message.not_before is not None and message.not_before > now:
        return Decision(
            Verdict.DEFER, rule="message.not_before", reason="not before", until=message.not_before
        )
    return None
