"""Dispatch: hold a batch of messages, ask the policy, render, send concurrently, record.

Short transactions, none held across network I/O:
1. hold the due messages and decide them: with the debtors of the batch locked (see
   `_serialize`), read their contact history, apply the frequency caps message by message, and
   write every decision — deferred / suppressed / expired / failed-to-render, and `sending` with
   the rendered content (the evidence) and a lease for the ones allowed — so caps hold under any
   number of workers racing for the same debtor. On PostgreSQL this is one transaction that holds
   the messages by row lock (`SELECT … FOR UPDATE SKIP LOCKED`): a worker that dies in it leaves
   them waiting, untouched. SQLite has one writer for the whole database, so its claim
   (`waiting → dispatching`, with a lease) is a transaction of its own and the writer is free
   while the batch renders;
2. after the provider calls: `sending → sent | retry_wait | failed | unknown`, and attach any
   receipt that arrived before its provider reference was known.
A worker that dies between 1 and 2 leaves `sending` messages; the sweeper turns them into
`unknown`, never into a second send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from channels.base import Outgoing
from gateway.errors import ValidationFailed
from gateway.runtime import Runtime
from gateway.services import holding, outbound, receipts, reroute, webhook_events
from gateway.services.content import content_gate, render_message
from gateway.services.outcome import Outcome
from gateway.services.policy_facts import case_facts, contact_facts, message_facts
from gateway.services.sending import send_all
from gateway.services.verdicts import Verdicts
from gateway.store import cases as case_store
from gateway.store import history as history_store
from gateway.store import messages as message_store
from gateway.store import templates as template_store
from gateway.store import timeline
from gateway.store import webhooks as webhook_store
from scheduler.decisions import Decision, Touch, Verdict
from scheduler.policy import bounded, cap_purpose, pipeline, send_by

log = structlog.get_logger()


@dataclass
class Screened:
    """The batch after the rules that need no history: decisions, and what may be sent."""

    decisions: Verdicts
    reroutes: list[tuple[Any, Decision]] = field(default_factory=list)
    deadlines: dict[str, datetime] = field(default_factory=dict)
    candidates: list[tuple[Any, Outgoing, dict[str, Any], Any]] = field(default_factory=list)


def _screen(rt: Runtime, batch: holding.Batch, templates: dict[int, Any]) -> Screened:
    """The policy up to the caps, the rendering and the content gate, message by message."""
    now = batch.now
    out = Screened(Verdicts(now))
    for row in batch.rows:
        if row.expires_at is not None and row.expires_at <= now:
            out.decisions.expire(row)
            continue
        preset = rt.presets.get(row.preset)
        message = message_facts(row)
        contact = contact_facts(
            row.channel, row.contact_status, row.contact_role, batch.inbound.get(row.contact_id)
        )
        facts = case_facts(row, batch.debtors[row.case_id], preset)
        # The rules up to the caps, which are decided under the per-debtor lock.
        decision = bounded(pipeline(message, facts, contact, now, preset), message, facts, preset)
        if decision.verdict is Verdict.REROUTE:
            out.reroutes.append((row, decision))
            continue
        if decision.verdict is not Verdict.ALLOW:
            out.decisions.apply(row, decision)
            continue
        try:
            outgoing, rendered = render_message(rt, row, templates[row.template_id], now)
        except ValidationFailed as exc:
            out.decisions.fail_render(row, exc.message)
            continue
        blocked = content_gate(rt, row, rendered)  # §6.1 step 7, on what the debtor would read
        if blocked is not None:
            out.decisions.apply(row, blocked)
            continue
        purpose = cap_purpose(message, contact, now, preset) if preset else row.purpose
        if (deadline := send_by(message, facts, now, preset)) is not None:
            out.deadlines[row.id] = deadline
        out.candidates.append((row, outgoing, rendered, (message, facts, contact, purpose, preset)))
    return out


async def _decide(
    rt: Runtime,
    conn: Any,
    batch: holding.Batch,
    screened: Screened,
    templates: dict[int, Any],
    *,
    row_locked: bool,
) -> tuple[list[tuple[Any, Outgoing]], list[tuple[str, str]]]:
    """The caps under the per-debtor lock, then every decision written: what to send, and the
    letters rerouted to."""
    now, decisions = batch.now, screened.decisions
    to_send: list[tuple[Any, Outgoing]] = []
    if screened.candidates:
        addresses = set().union(*(batch.debtors[r.case_id] for r, _, _, _ in screened.candidates))
        await holding.serialize(conn, screened.candidates[0][0].id, addresses)
        known = await history_store.touches(conn, addresses, now, rt.cap_lookback)
        added: dict[frozenset[str], list[Touch]] = {}
        for row, outgoing, rendered, facts_of in screened.candidates:
            message, facts, contact, purpose, preset = facts_of
            identity = batch.debtors[row.case_id]
            past = history_store.for_debtor(known, identity, excluding=row.id) + added.get(
                identity, []
            )
            decided = pipeline(
                message,
                facts,
                contact,
                now,
                preset,
                caps=rt.cap_policy(row.preset),
                history=past,
            )
            if decided.verdict is not Verdict.ALLOW:
                decisions.apply(row, bounded(decided, message, facts, preset))
                continue
            decisions.send(row, rendered, preset)
            added.setdefault(identity, []).append(Touch(row.channel, now, purpose))
            to_send.append((row, outgoing))
    letters: list[tuple[str, str]] = []
    published = await template_store.published(conn) if screened.reroutes else {}
    for row, decision in screened.reroutes:
        key = templates[row.template_id].key
        recorded, more = await reroute.to_letter(conn, row, key, published, decision, now)
        decisions.apply(row, recorded, **more)
        if more:
            letters.append((more["rerouted_to"], "letter"))
    lease_until = now + timedelta(seconds=rt.settings.claim_lease_s)
    await decisions.write(conn, batch.token, lease_until=lease_until, row_locked=row_locked)
    # The tenants' webhooks, read once for the job: its outcome's events go to the same ones.
    batch.hooks = await webhook_store.subscribed(conn, {r.tenant for r in batch.rows})
    told = webhook_events.message_states(batch.by_id(), decisions.moves())
    await webhook_events.emit(conn, told, now, batch.hooks)
    return to_send, letters


async def _record(rt: Runtime, conn: Any, outcome: Outcome, batch: holding.Batch) -> None:
    """What the providers answered, attached receipts that arrived first included."""
    done, token = rt.clock(), batch.token
    for rows, state in outcome.moves():
        await message_store.transition_each(conn, rows, state, now=done, held_by=token)
    await timeline.append(conn, outcome.entries)
    told = webhook_events.message_states(batch.by_id(), outcome.moves())
    await webhook_events.emit(conn, told, done, batch.hooks)
    await case_store.set_contact_statuses(conn, outcome.contacts, done)
    by_provider: dict[str, list[str]] = {}
    for sent in outcome.sent:
        by_provider.setdefault(sent["provider"], []).append(sent["provider_ref"])
    for provider, refs in by_provider.items():
        await receipts.reconcile(conn, provider, refs, done)


async def dispatch(rt: Runtime, ids: list[str]) -> dict[str, int]:
    """Process one job's message ids. Safe to run twice or concurrently for the same ids."""
    if rt.engine.dialect.name == "postgresql":
        # One connection for the job; one transaction holds, decides and writes.
        async with rt.engine.connect() as conn:
            async with conn.begin():
                batch = await holding.hold(rt, conn, ids, row_locked=True)
                if not batch.rows:
                    return {"claimed": 0}
                templates = await rt.templates({r.template_id for r in batch.rows})
                screened = _screen(rt, batch, templates)
                decided = await _decide(rt, conn, batch, screened, templates, row_locked=True)
            return await _send(rt, batch, screened, *decided, conn)
    # SQLite: each transaction returns its connection to the pool, and with it the write gate.
    async with rt.engine.begin() as conn:
        batch = await holding.hold(rt, conn, ids, row_locked=False)
    if not batch.rows:
        return {"claimed": 0}
    templates = await rt.templates({r.template_id for r in batch.rows})
    screened = _screen(rt, batch, templates)
    async with rt.engine.begin() as conn:
        decided = await _decide(rt, conn, batch, screened, templates, row_locked=False)
    return await _send(rt, batch, screened, *decided, None)


async def _send(
    rt: Runtime,
    batch: holding.Batch,
    screened: Screened,
    to_send: list[tuple[Any, Outgoing]],
    letters: list[tuple[str, str]],
    conn: Any | None,
) -> dict[str, int]:
    """Hand the allowed messages to providers (nothing held meanwhile), then record the outcome
    on `conn` (kept by the job) or a connection of its own."""
    decisions = screened.decisions
    rt.metrics.decided(decisions)
    await outbound.enqueue(rt, letters)
    outcome = await send_all(rt, to_send, screened.deadlines)
    if conn is not None:
        async with conn.begin():
            await _record(rt, conn, outcome, batch)
    else:
        async with rt.engine.begin() as own:
            await _record(rt, own, outcome, batch)
    counts = {
        "claimed": len(batch.rows),
        "deferred": len(decisions.deferred),
        "suppressed": len(decisions.suppressed),
        "expired": len(decisions.expired),
        **outcome.counts(),
    }
    log.info("dispatched", **counts)
    return counts
