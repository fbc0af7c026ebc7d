"""The vocabulary of the policy engine: what it is told (facts) and what it answers (decisions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


ALLOW = Decision(Verdict.ALLOW)


@dataclass(frozen=True, slots=True)
class MessageFacts:
    channel: str
    purpose: str
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class CaseFacts:
    state: str
    state_reason: str | None = None
    state_until: datetime | None = None
    preset: str = ""
    # The debtor's candidate time zones (compliance §6.4), already resolved by the caller.
    zones: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContactFacts:
    channel: str
    status: str


@dataclass(frozen=True, slots=True)
class Touch:
    """One earlier proactive touch of the same debtor, on any of their cases."""

    channel: str
    at: datetime
    purpose: str = "reminder"
