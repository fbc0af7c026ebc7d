"""One reply being acted on: the reply, its classification, and what its effects changed so far.

Shared by every effect module (`contacts`, `state`, `restrictions`) and the orchestrator
(`effects`), so none of them imports another to know what a run is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.replies import Category, Classification
from gateway.replies.effects import BASIS, rules_of
from gateway.services.replies.answers import ACTOR
from gateway.store import timeline
from scheduler.cadence import Cadence


@dataclass(frozen=True, slots=True)
class Reply:
    """The reply being acted on: its row id, channel and text, its case (a cases row) and the
    contact point that wrote it (None when the sender is not one of the case's)."""

    id: int
    channel: str
    body: str
    case: Any
    contact: Any | None


@dataclass
class Outcome:
    """The effects (as kept on the reply), the messages to enqueue after commit, and why a
    person must look (empty: nobody needs to)."""

    effects: list[dict[str, Any]] = field(default_factory=list)
    due: list[tuple[str, str]] = field(default_factory=list)
    review: list[str] = field(default_factory=list)


@dataclass
class Run:
    """One reply being applied: what it is, what was found, what changed so far, and who acts
    (the gateway reading it, or the operator who resolved it)."""

    conn: AsyncConnection
    reply: Reply
    result: Classification
    now: datetime
    # The runtime's cadences: a state change reacts on the case's running cadence.
    cadences: Mapping[str, Cadence]
    actor: str = ACTOR
    outcome: Outcome = field(default_factory=Outcome)
    entries: list[dict[str, Any]] = field(default_factory=list)
    changed_contacts: set[int] = field(default_factory=set)

    def about(self, category: Category) -> dict[str, Any]:
        """The audit fields of every effect of `category` (§6.6: inbound message id, classifier
        version, rule ids, actor)."""
        return {
            "actor": self.actor,
            "reply_id": self.reply.id,
            "category": category.value,
            "classifier_version": self.result.version,
            "rule": rules_of(self.result, category),
            "basis": BASIS[category],
        }

    def record(self, category: Category, case_id: int | None = None, **effect: Any) -> None:
        """Note an effect on the reply and as a timeline entry (on `case_id`, default the reply's
        case: an opt-out reaches the address on the debtor's other cases too)."""
        self.outcome.effects.append({"category": category.value, **effect})
        case = case_id or self.reply.case.id
        entry = timeline.entry(case, "reply_effect", self.now, **self.about(category), **effect)
        self.entries.append(entry)

    async def flush(self) -> None:
        """Write the recorded entries, so the timeline keeps the order things happened in."""
        await timeline.append(self.conn, self.entries)
        self.entries.clear()
