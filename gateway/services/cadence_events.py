"""What a cadence does on a case, written twice in one transaction: on the case's timeline and,
for upstream systems that asked for it, as a `cadence.step` webhook event (started, a step
released or skipped, stopped, finished). The event carries the timeline entry's own fields,
which hold no personal data: the cadence, the run, the step, its channel and template, why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.services import webhook_events
from gateway.store import timeline


async def record(
    conn: AsyncConnection,
    tenants: Mapping[int, str],
    entries: Sequence[dict[str, Any]],
    now: datetime,
) -> None:
    """Append `entries` to their cases' timelines and tell each as a `cadence.step` event;
    `tenants`: each entry's case id → its tenant."""
    await timeline.append(conn, entries)
    await webhook_events.emit(
        conn,
        [
            webhook_events.Event(
                tenants[e["case_id"]],
                e["case_id"],
                webhook_events.CADENCE_STEP,
                {
                    "kind": e["kind"].removeprefix("cadence_"),
                    **e["data"],
                    **({"message_id": e["message_id"]} if e["message_id"] else {}),
                },
            )
            for e in entries
        ],
        now,
    )


def ended(
    case_id: int,
    kind: str,
    now: datetime,
    run: Any,
    reason: str,
    cancelled: Sequence[Any],
    actor: str = timeline.SYSTEM,
) -> dict[str, Any]:
    """The timeline entry of a run that ended (`cadence_stopped` or `cadence_finished`): why,
    who, and the names of the steps it cancelled."""
    return timeline.entry(
        case_id,
        kind,
        now,
        actor=actor,
        cadence=run.cadence,
        run=run.id,
        reason=reason,
        cancelled=[s.name for s in cancelled],
    )
