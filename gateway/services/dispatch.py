"""Dispatch: claim a batch of messages, ask the policy, render, send concurrently, record.

Three short transactions per batch, none held across network I/O:
1. claim the due messages (`accepted|deferred|retry_wait → dispatching`, with a lease);
2. the debtor-serialized decision: with the debtors of the batch locked (see `_serialize`), read
   their contact history, apply the frequency caps message by message, and write every decision:
   deferred / suppressed / expired / failed-to-render, and `dispatching → sending` with the
   rendered content (the evidence) for the ones allowed — so caps hold under any number of
   workers racing for the same debtor;
3. after the provider calls: `sending → sent | retry_wait | failed | unknown`, and attach any
   receipt that arrived before its provider reference was known.
A worker that dies between 2 and 3 leaves `sending` claims; the sweeper turns them into `unknown`,
never into a second send.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from channels.base import Outgoing
from gateway.errors import ValidationFailed
from gateway.runtime import Runtime
from gateway.services import outbound, receipts, reroute
from gateway.services.content import content_gate, render_message
from gateway.services.policy_facts import case_facts, contact_facts, message_facts
from gateway.services.sending import send_all
from gateway.services.verdicts import Verdicts
from gateway.states import State
from gateway.store import cases as case_store
from gateway.store import history as history_store
from gateway.store import messages as message_store
from gateway.store import templates as template_store
from gateway.store import timeline
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M
from scheduler.decisions import Decision, Touch, Verdict
from scheduler.policy import bounded, cap_purpose, pipeline, send_by

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
                M.c.created_at,
                M.c.tenant,
                M.c.api_key_id,
                C.c.case_ref,
                C.c.collector_role,
                C.c.restrictions,
                C.c.debtor,
                C.c.debt,
                C.c.locale,
                C.c.state.label("case_state"),
                C.c.state_reason.label("case_state_reason"),
                C.c.state_until,
                C.c.preset,
                C.c.timezone,
                CP.c.address,
                CP.c.postal,
                CP.c.status.label("contact_status"),
                CP.c.role.label("contact_role"),
            )
            .join(C, C.c.id == M.c.case_id)
            .join(CP, CP.c.id == M.c.contact_id)
            .where(M.c.id.in_(ids))
        )
    )


_LOCK_IN_ORDER = sa.text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM "
    "(SELECT k FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS sorted_keys"
)


async def _serialize(conn: Any, message_id: str, addresses: set[str]) -> None:
    """Make this transaction the only one deciding for these debtors until it commits.

    PostgreSQL: transaction-scoped advisory locks on each contact identity, taken in sorted order
    so two workers never deadlock, all in one statement (one round trip per batch, not one per
    address). SQLite: one writer at a time already; a first write takes the write lock (and the
    gateway's write gate) before the history is read.
    """
    if conn.dialect.name == "postgresql":
        keys = sorted({zlib.crc32(a.encode()) for a in addresses})
        # The ordered subquery feeds the locks one row at a time, in that order.
        await conn.execute(_LOCK_IN_ORDER, {"keys": keys})
    else:
        # One no-op write by primary key takes the write lock (an unindexed column would scan).
        await conn.execute(
            sa.update(M).where(M.c.id == message_id).values(lease_until=M.c.lease_until)
        )


async def dispatch(rt: Runtime, ids: list[str]) -> dict[str, int]:
    """Process one job's message ids. Safe to run twice or concurrently for the same ids."""
    now = rt.clock()
    async with rt.engine.begin() as conn:
        token, claimed = await message_store.claim(
            conn, ids, now=now, lease_s=rt.settings.claim_lease_s
        )
        rows = await _load(conn, claimed) if claimed else []
        debtors = await history_store.identities(conn, {r.case_id for r in rows})
        # Only answers to the debtor's own messages need to know when they last wrote to us.
        answering = {r.contact_id for r in rows if r.purpose in history_store.ANSWERS}
        inbound = await history_store.inbound_facts(conn, answering) if answering else {}
    if not rows:
        return {"claimed": 0}

    templates = await rt.templates({r.template_id for r in rows})
    decisions = Verdicts(now)
    reroutes: list[tuple[Any, Decision]] = []
    deadlines: dict[str, datetime] = {}
    candidates: list[tuple[Any, Outgoing, dict[str, Any], Any]] = []
    for row in rows:
        if row.expires_at is not None and row.expires_at <= now:
            decisions.expire(row)
            continue
        preset = rt.presets.get(row.preset)
        message = message_facts(row)
        contact = contact_facts(
            row.channel, row.contact_status, row.contact_role, inbound.get(row.contact_id)
        )
        facts = case_facts(row, debtors[row.case_id], preset)
        # The rules up to the caps, which are decided under the per-debtor lock below.
        decision = bounded(pipeline(message, facts, contact, now, preset), message, facts, preset)
        if decision.verdict is Verdict.REROUTE:
            reroutes.append((row, decision))
            continue
        if decision.verdict is not Verdict.ALLOW:
            decisions.apply(row, decision)
            continue
        try:
            outgoing, rendered = render_message(rt, row, templates[row.template_id], now)
        except ValidationFailed as exc:
            decisions.fail_render(row, exc.message)
            continue
        blocked = content_gate(rt, row, rendered)  # §6.1 step 7, on what the debtor would read
        if blocked is not None:
            decisions.apply(row, blocked)
            continue
        purpose = cap_purpose(message, contact, now, preset) if preset else row.purpose
        if (deadline := send_by(message, facts, now, preset)) is not None:
            deadlines[row.id] = deadline
        candidates.append((row, outgoing, rendered, (message, facts, contact, purpose, preset)))

    to_send: list[tuple[Any, Outgoing]] = []
    async with rt.engine.begin() as conn:
        if candidates:
            addresses = set().union(*(debtors[r.case_id] for r, _, _, _ in candidates))
            await _serialize(conn, candidates[0][0].id, addresses)
            known = await history_store.touches(conn, addresses, now, rt.cap_lookback)
            added: dict[frozenset[str], list[Touch]] = {}
            for row, outgoing, rendered, (message, facts, contact, purpose, preset) in candidates:
                identity = debtors[row.case_id]
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
                decisions.send(row, rendered)
                added.setdefault(identity, []).append(Touch(row.channel, now, purpose))
                to_send.append((row, outgoing))
        letters: list[tuple[str, str]] = []
        published = await template_store.published(conn) if reroutes else {}
        for row, decision in reroutes:
            key = templates[row.template_id].key
            recorded, more = await reroute.to_letter(conn, row, key, published, decision, now)
            decisions.apply(row, recorded, **more)
            if more:
                letters.append((more["rerouted_to"], "letter"))
        await decisions.write(conn, token)
    rt.metrics.decided(decisions)
    await outbound.enqueue(rt, letters)

    outcome = await send_all(rt, to_send, deadlines)
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
        "deferred": len(decisions.deferred),
        "suppressed": len(decisions.suppressed),
        "expired": len(decisions.expired),
        **outcome.counts(),
    }
    log.info("dispatched", **counts)
    return counts
