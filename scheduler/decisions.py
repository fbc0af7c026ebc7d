"""The vocabulary of the policy engine: what it is told (facts) and what it answers (decisions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum


class Verdict(StrEnum):
    ALLOW = "allow"
    DEFER = "defer"
    SUPPRESS = "suppress"
    REROUTE = "reroute"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    rule: str = ""
    reason: str = ""
    until: datetime | None = None
    channel: str | None = None
    preset: str = ""
    preset_version: int | None = None
    # Why the candidate zones a window decision used are wide (see CaseFacts.zones_note), or "".
    zones_note: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


ALLOW = Decision(Verdict.ALLOW)

# Channels with a contact window; letters have none.
WINDOWED = ("sms", "email")


def nowhere(on_empty: str, rule: str, reason: str) -> Decision:
    """No instant is allowed: a letter instead (`reroute_letter`), or a person decides — never an
    arbitrary pick of one zone or one set of hours (§6.4 step 6)."""
    if on_empty == "reroute_letter":
        return Decision(Verdict.REROUTE, rule=rule, reason=reason, channel="letter")
    return Decision(Verdict.REVIEW, rule=rule, reason=reason)


# What a message is for; it decides which rules apply (see each set below). A template names its
# purpose in its meta data; everything else is a proactive `reminder`.
PURPOSES = (
    "reminder",
    "reply_to_inbound",
    "inbound_acknowledgement",
    "opt_out_confirmation",
    "help_reply",
    "statutory_notice",
    "validation_notice",
    "nosia",
    "default_notice",
    "termination_notice",
    "payment_receipt_requested",
)
# Answers the debtor asked for by writing to us: sent outside the contact window (§6.5) and
# never paused by a promise to pay or a hardship pause.
IMMEDIATE_ANSWERS = frozenset({"opt_out_confirmation", "help_reply", "inbound_acknowledgement"})
# Only proactive reminders wait for a pause (promise to pay, hardship…) to end.
PAUSED_BY_PAUSE = frozenset({"reminder"})


@dataclass(frozen=True, slots=True)
class MessageFacts:
    channel: str
    purpose: str
    not_before: datetime | None = None
    # When the message was meant to go: `not_before`, else when it was accepted. The preset's
    # maximum deferral counts from here.
    scheduled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Restrictions:
    """What the debtor asked for (compliance §6.1 step 5): contact only within these local hours
    (in every candidate zone), on these weekdays (0 = Monday), by these channels."""

    hours: tuple[time, time] | None = None
    days: frozenset[int] | None = None
    channels: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class CaseFacts:
    state: str
    state_reason: str | None = None
    state_until: datetime | None = None
    preset: str = ""
    # The debtor's candidate time zones (compliance §6.4), already resolved by the caller.
    zones: tuple[str, ...] = ()
    # Why `zones` is wider than one place (e.g. "the postal address names no state or ZIP code:
    # every US zone counts"), or "": decisions that depend on the zones carry it.
    zones_note: str = ""
    collector_role: str = "first_party"
    restrictions: Restrictions | None = None


@dataclass(frozen=True, slots=True)
class ContactFacts:
    channel: str
    status: str
    role: str = "debtor"
    # The last time this contact point wrote to us, and what we answered since (§6.5 grace).
    last_inbound_at: datetime | None = None
    acknowledged_since_inbound: bool = False
    replies_since_inbound: int = 0


@dataclass(frozen=True, slots=True)
class Touch:
    """One earlier proactive touch of the same debtor, on any of their cases."""

    channel: str
    at: datetime
    purpose: str = "reminder"
