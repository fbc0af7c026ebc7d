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

import asyncio
import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog

from channels.base import Outgoing, PermanentProviderError, SendResult, TransientProviderError
from gateway.bootstrap import Runtime
from gateway.errors import ValidationFailed
from gateway.services import receipts
from gateway.services.content import render_message
from gateway.states import State
from gateway.store import messages as message_store
from gateway.store import timeline
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M
from scheduler.policy import CaseFacts, ContactFacts, MessageFacts, Verdict, decide

log = structlog.get_logger()


@dataclass
class Outcome:
    sent: list[dict[str, Any]] = field(default_factory=list)
    retry: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"sent": len(self.sent), "retry": len(self.retry), "failed": len(self.failed)}


async def _load(conn: Any, ids: list[str]) -> list[Any]:
    return list(
        await conn.execute(
            sa.select(
                M.c.id,
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

    outcome = await _send_all(rt, to_send)
    done = rt.clock()
    async with rt.engine.begin() as conn:
        await message_store.transition_each(conn, outcome.sent, State.SENT, now=done, held_by=token)
        await message_store.transition_each(
            conn, outcome.retry, State.RETRY_WAIT, now=done, held_by=token
        )
        await message_store.transition_each(
            conn, outcome.failed, State.FAILED, now=done, held_by=token
        )
        await timeline.append(conn, outcome.entries)
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


async def _send_all(rt: Runtime, batch: list[tuple[Any, Outgoing, dict[str, Any]]]) -> Outcome:
    outcome = Outcome()
    gate = asyncio.Semaphore(rt.settings.send_concurrency)

    async def one(row: Any, outgoing: Outgoing) -> None:
        async with gate:
            await _send_one(rt, row, outgoing, outcome)

    await asyncio.gather(*(one(row, outgoing) for row, outgoing, _ in batch))
    return outcome


async def _send_one(rt: Runtime, row: Any, outgoing: Outgoing, outcome: Outcome) -> None:
    attempt = row.attempts + 1
    providers = rt.providers_for(row.channel)
    if not providers:
        outcome.failed.append(
            {
                "id": row.id,
                "state_reason": f"no {row.channel} provider configured",
                "lease_until": None,
            }
        )
        outcome.entries.append(
            timeline.entry(
                row.case_id, "failed", rt.clock(), message_id=row.id, reason="no provider"
            )
        )
        return
    provider = providers[0]
    try:
        result: SendResult = await provider.send(outgoing)
    except TransientProviderError as exc:
        now = rt.clock()
        if attempt >= rt.settings.max_attempts:
            outcome.failed.append(
                {
                    "id": row.id,
                    "state_reason": f"gave up after {attempt} attempts: {exc.reason}"[:128],
                    "lease_until": None,
                }
            )
            outcome.entries.append(
                timeline.entry(
                    row.case_id,
                    "failed",
                    now,
                    message_id=row.id,
                    attempt=attempt,
                    provider=provider.name,
                    reason=exc.reason,
                    final=True,
                )
            )
            return
        until = now + timedelta(
            seconds=backoff(
                attempt, rt.settings.retry_base_s, rt.settings.retry_cap_s, exc.retry_after
            )
        )
        outcome.retry.append(
            {
                "id": row.id,
                "next_attempt_at": until,
                "enqueued_at": None,
                "state_reason": exc.reason[:128],
                "lease_until": None,
            }
        )
        outcome.entries.append(
            timeline.entry(
                row.case_id,
                "retry_scheduled",
                now,
                message_id=row.id,
                attempt=attempt,
                provider=provider.name,
                reason=exc.reason,
                until=until.isoformat(),
            )
        )
        return
    except PermanentProviderError as exc:
        outcome.failed.append({"id": row.id, "state_reason": exc.reason[:128], "lease_until": None})
        outcome.entries.append(
            timeline.entry(
                row.case_id,
                "failed",
                rt.clock(),
                message_id=row.id,
                attempt=attempt,
                provider=provider.name,
                reason=exc.reason,
            )
        )
        return
    except Exception as exc:  # noqa: BLE001 — a provider bug must not leave the batch half-recorded
        log.exception("provider_crashed", provider=provider.name, message_id=row.id)
        outcome.failed.append(
            {
                "id": row.id,
                "state_reason": f"provider error: {type(exc).__name__}",
                "lease_until": None,
            }
        )
        outcome.entries.append(
            timeline.entry(
                row.case_id,
                "failed",
                rt.clock(),
                message_id=row.id,
                attempt=attempt,
                provider=provider.name,
                reason="provider error",
            )
        )
        return
    now = rt.clock()
    outcome.sent.append(
        {
            "id": row.id,
            "provider": provider.name,
            "provider_ref": result.provider_ref,
            "sent_at": now,
            "lease_until": None,
        }
    )
    outcome.entries.append(
        timeline.entry(
            row.case_id,
            "sent",
            now,
            message_id=row.id,
            attempt=attempt,
            provider=provider.name,
            provider_ref=result.provider_ref,
            **result.detail,
        )
    )


def backoff(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter in its upper half; never sooner than `retry_after`."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)
