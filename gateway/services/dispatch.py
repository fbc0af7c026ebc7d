"""Dispatch: claim a batch of messages, ask the policy, render, send concurrently, record.

Three short transactions per batch, none held across network I/O:
1. claim the due messages (`accepted|deferred|retry_wait → dispatching`, with a lease);
2. write every decision: deferred / suppressed / expired / failed-to-render, and
   `dispatching → sending` with the rendered content (the evidence) for the ones allowed;
3. after the provider calls: `sending → sent | retry_wait | failed`, and attach any receipt that
   arrived before its provider reference was known.
A worker that dies between 2 and 3 leaves `sending` claims; the sweeper turns them into `unknown`,
never into a second send.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import structlog

from channels.base import Outgoing
from gateway.bootstrap import Runtime
from gateway.errors import ValidationFailed
from gateway.services import receipts
from gateway.services.content import render_message
from gateway.services.sending import send_all
from gateway.states import State
from gateway.store import cases as case_store
from gateway.store import messages as message_store
from gateway.store import timeline
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M
from scheduler.policy import CaseFacts, ContactFacts, MessageFacts, Verdict, decide

log = structlog.get_logger()


async def _load(conn: Any, ids: list[str]) -> list[Any]:
    return list(
        await conn.execute(
            sa.select(
                M.c.id,
                M.c.contact_id,
                M.c.case_id,
                M.c.channel,
                M.c.template_id,
                M.c.purpose,
                M.c.attempts,
                M.c.not_before,
                M.c.expires_at,
                M.c.data,
                C.c.case_ref,
                C.c.debtor,
                C.c.debt,
                C.c.locale,
                C.c.state.label("case_state"),
                C.c.state_reason.label("case_state_reason"),
                C.c.state_until,
                C.c.preset,
                CP.c.address,
                CP.c.postal,
                CP.c.status.label("contact_status"),
            )
            .join(C, C.c.id == M.c.case_id)
            .join(CP, CP.c.id == M.c.contact_id)
            .where(M.c.id.in_(ids))
        )
    )


async def dispatch(rt: Runtime, ids: list[str]) -> dict[str, int]:
    """Process one job's message ids. Safe to run twice or concurrently for the same ids."""
    now = rt.clock()
    settings = rt.settings
    async with rt.engine.begin() as conn:
        token, claimed = await message_store.claim(
            conn, ids, now=now, lease_s=settings.claim_lease_s
        )
        rows = await _load(conn, claimed) if claimed else []
    if not rows:
        return {"claimed": 0}

    templates = await rt.templates({r.template_id for r in rows})
    to_send: list[tuple[Any, Outgoing, dict[str, Any]]] = []
    deferred: list[dict[str, Any]] = []
    suppressed: list[dict[str, Any]] = []
    expired: list[str] = []
    unrenderable: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []

    for row in rows:
        if row.expires_at is not None and row.expires_at <= now:
            expired.append(row.id)
            entries.append(
                timeline.entry(
                    row.case_id, "expired", now, message_id=row.id, reason="expires_at passed"
                )
            )
            continue
        decision = decide(
            MessageFacts(row.channel, row.purpose, row.not_before),
            CaseFacts(row.case_state, row.case_state_reason, row.state_until, row.preset),
            ContactFacts(row.channel, row.contact_status),
            (),
            now,
        )
        if decision.verdict is Verdict.DEFER:
            assert decision.until is not None
            deferred.append(
                {
                    "id": row.id,
                    "next_attempt_at": decision.until,
                    "enqueued_at": None,
                    "state_reason": f"{decision.rule}: {decision.reason}",
                }
            )
            entries.append(
                timeline.entry(
                    row.case_id,
                    "deferred",
                    now,
                    message_id=row.id,
                    rule=decision.rule,
                    reason=decision.reason,
                    until=decision.until.isoformat(),
                )
            )
            continue
        if decision.verdict is not Verdict.ALLOW:
            suppressed.append({"id": row.id, "state_reason": f"{decision.rule}: {decision.reason}"})
            entries.append(
                timeline.entry(
                    row.case_id,
                    "suppressed",
                    now,
                    message_id=row.id,
                    rule=decision.rule,
                    reason=decision.reason,
                    verdict=decision.verdict.value,
                )
            )
            continue
        try:
            outgoing, rendered = render_message(rt, row, templates[row.template_id], now)
        except ValidationFailed as exc:
            unrenderable.append({"id": row.id, "state_reason": exc.message[:128]})
            entries.append(
                timeline.entry(
                    row.case_id, "failed", now, message_id=row.id, reason="template_error"
                )
            )
            continue
        to_send.append((row, outgoing, rendered))

    async with rt.engine.begin() as conn:
        await message_store.transition(
            conn,
            expired,
            State.EXPIRED,
            now=now,
            held_by=token,
            state_reason="expires_at passed",
            lease_until=None,
        )
        await message_store.transition_each(conn, deferred, State.DEFERRED, now=now, held_by=token)
        await message_store.transition_each(
            conn, suppressed, State.SUPPRESSED, now=now, held_by=token
        )
        await message_store.transition_each(
            conn, unrenderable, State.FAILED, now=now, held_by=token
        )
        await message_store.transition_each(
            conn,
            [
                {"id": r.id, "rendered": rendered, "attempts": r.attempts + 1}
                for r, _, rendered in to_send
            ],
            State.SENDING,
            now=now,
            held_by=token,
        )
        await timeline.append(conn, entries)

    outcome = await send_all(rt, [(row, outgoing) for row, outgoing, _ in to_send])
    done = rt.clock()
    async with rt.engine.begin() as conn:
        await message_store.transition_each(conn, outcome.sent, State.SENT, now=done, held_by=token)
        await message_store.transition_each(
            conn, outcome.retry, State.RETRY_WAIT, now=done, held_by=token
        )
        await message_store.transition_each(
            conn, outcome.failed, State.FAILED, now=done, held_by=token
        )
        await message_store.transition_each(
            conn, outcome.unknown, State.UNKNOWN, now=done, held_by=token
        )
        await timeline.append(conn, outcome.entries)
        await case_store.set_contact_statuses(conn, outcome.contacts, done)
        by_provider: dict[str, list[str]] = {}
        for sent in outcome.sent:
            by_provider.setdefault(sent["provider"], []).append(sent["provider_ref"])
        for provider, refs in by_provider.items():
            await receipts.reconcile(conn, provider, refs, done)
    counts = {
        "claimed": len(rows),
        "deferred": len(deferred),
        "suppressed": len(suppressed),
        "expired": len(expired),
        **outcome.counts(),
    }
    log.info("dispatched", **counts)
    return counts
