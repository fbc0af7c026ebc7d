"""What happened to a dispatch batch at its providers: the row update per target state, the
timeline entries and the contact-point changes, written in one transaction afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.states import State
from gateway.store import timeline


@dataclass
class Outcome:
    """What happened to a batch: row updates per target state, timeline entries, contact changes."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    retry: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[tuple[int, str, str]] = field(
        default_factory=list
    )  # (contact id, status, reason)

    def counts(self) -> dict[str, int]:
        return {
            "sent": len(self.sent),
            "retry": len(self.retry),
            "failed": len(self.failed),
            "unknown": len(self.unknown),
        }

    def moves(self) -> list[tuple[list[dict[str, Any]], State]]:
        """The row updates, with the state each list moves to."""
        return [
            (self.sent, State.SENT),
            (self.retry, State.RETRY_WAIT),
            (self.failed, State.FAILED),
            (self.unknown, State.UNKNOWN),
        ]

    def fail(self, row: Any, now: datetime, reason: str, **detail: Any) -> None:
        self.failed.append({"id": row.id, "state_reason": reason[:128], "lease_until": None})
        self.entries.append(
            timeline.entry(row.case_id, "failed", now, message_id=row.id, reason=reason, **detail)
        )

    def wait(
        self,
        row: Any,
        now: datetime,
        until: datetime,
        reason: str,
        *,
        handed_over: bool = True,
        **detail: Any,
    ) -> None:
        """Back to waiting until `until`. A message that never reached a provider (no rate-limit
        token in time, its window closing meanwhile) is no attempt: neither the attempt counter
        nor the frequency caps count it."""
        self.retry.append(
            {
                "id": row.id,
                "next_attempt_at": until,
                "enqueued_at": None,
                "state_reason": reason[:128],
                "lease_until": None,
                "attempts": row.attempts + 1 if handed_over else row.attempts,
                "attempted_at": now if handed_over else None,
            }
        )
        self.entries.append(
            timeline.entry(
                row.case_id,
                "retry_scheduled",
                now,
                message_id=row.id,
                reason=reason,
                until=until.isoformat(),
                **detail,
            )
        )
