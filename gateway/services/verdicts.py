"""Every message's fate in one dispatch batch, as row updates and case-timeline entries.

Each decision that is not ALLOW is written on the case timeline with the rule id, the reason and
the preset's name and version, so the case file says why a message waited, was dropped or needs
a person — and under which version of the rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.metrics.recorder import NO_RULE
from gateway.states import CLAIMABLE, State
from gateway.store import messages as message_store
from gateway.store import timeline
from scheduler.decisions import Decision, Verdict
from scheduler.policy import MAX_DEFER_RULE

# Timeline kinds of the verdicts that stop a message (a deferral is `deferred`).
STOPPED = {
    Verdict.SUPPRESS: "suppressed",
    Verdict.REVIEW: "review_required",
    Verdict.REROUTE: "rerouted",
}


@dataclass
class Verdicts:
    """Collects the batch's outcomes, then writes them in one transaction (`write`)."""

    now: datetime
    expired: list[dict[str, Any]] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[dict[str, Any]] = field(default_factory=list)
    unrenderable: list[dict[str, Any]] = field(default_factory=list)
    sending: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    # (verdict, rule) → messages, for the policy-verdict metric: counted once per batch.
    tally: Counter[tuple[str, str]] = field(default_factory=Counter)

    def expire(self, row: Any) -> None:
        self.expired.append(
            {"id": row.id, "state_reason": "expires_at passed", "lease_until": None}
        )
        self.entries.append(
            timeline.entry(
                row.case_id, "expired", self.now, message_id=row.id, reason="expires_at passed"
            )
        )

    def apply(self, row: Any, decision: Decision, **more: Any) -> None:
        """Record a decision that is not ALLOW; `more` adds data to its timeline entry."""
        self.tally[decision.verdict.value, decision.rule or NO_RULE] += 1
        reason = f"{decision.rule}: {decision.reason}"[:128]
        detail: dict[str, Any] = {
            "rule": decision.rule,
            "reason": decision.reason,
            "preset": decision.preset or None,
            "preset_version": decision.preset_version,
        }
        if decision.zones_note:
            detail["zones_note"] = decision.zones_note
        if decision.verdict is Verdict.DEFER:
            assert decision.until is not None
            self.deferred.append(
                {
                    "id": row.id,
                    "next_attempt_at": decision.until,
                    "enqueued_at": None,
                    "state_reason": reason,
                }
            )
            kind, extra = "deferred", {"until": decision.until.isoformat()}
        elif decision.rule == MAX_DEFER_RULE:
            self.expired.append({"id": row.id, "state_reason": reason, "lease_until": None})
            kind, extra = "expired", {}
        else:
            self.suppressed.append({"id": row.id, "state_reason": reason})
            kind, extra = STOPPED[decision.verdict], {"verdict": decision.verdict.value}
            if decision.channel:
                extra["channel"] = decision.channel
        self.entries.append(
            timeline.entry(
                row.case_id, kind, self.now, message_id=row.id, **extra, **detail, **more
            )
        )

    def fail_render(self, row: Any, message: str) -> None:
        self.unrenderable.append({"id": row.id, "state_reason": message[:128]})
        self.entries.append(
            timeline.entry(
                row.case_id, "failed", self.now, message_id=row.id, reason="template_error"
            )
        )

    def send(self, row: Any, rendered: dict[str, Any], preset: Any | None = None) -> None:
        """Record an ALLOW. The decision that let the message go is kept with its content (the
        evidence export reads it there): every rule passed, so it names no rule, only the
        preset and its version — one JSON key more in an update already made, not a row."""
        self.tally[Verdict.ALLOW.value, NO_RULE] += 1
        decision = {
            "verdict": Verdict.ALLOW.value,
            "rule": None,
            "preset": preset.name if preset is not None else None,
            "preset_version": preset.version if preset is not None else None,
            "at": self.now.isoformat(),
        }
        self.sending.append(
            {
                "id": row.id,
                "rendered": {**rendered, "decision": decision},
                "attempts": row.attempts + 1,
                "attempted_at": self.now,
            }
        )

    def moves(self) -> list[tuple[list[dict[str, Any]], State]]:
        """The batch's row updates, with the state each list moves to."""
        return [
            (self.expired, State.EXPIRED),
            (self.deferred, State.DEFERRED),
            (self.suppressed, State.SUPPRESSED),
            (self.unrenderable, State.FAILED),
            (self.sending, State.SENDING),
        ]

    async def write(
        self, conn: Any, token: str, *, lease_until: datetime, row_locked: bool
    ) -> None:
        """Write the batch's decisions. `row_locked`: the transaction holds the messages by row
        lock (PostgreSQL), straight from waiting; otherwise they hold our `dispatching` claim.
        Messages going to a provider take the claim token and lease the sweeper watches."""
        now = self.now
        from_ = CLAIMABLE if row_locked else (State.DISPATCHING,)
        held_by = None if row_locked else token
        for row in self.sending:
            row["claim_token"], row["lease_until"] = token, lease_until
        for rows, state in self.moves():
            await message_store.transition_each(
                conn, rows, state, now=now, from_=from_, held_by=held_by
            )
        await timeline.append(conn, self.entries)
