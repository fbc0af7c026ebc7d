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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from channels.base import Outgoing
from gateway.bootstrap import Runtime
from gateway.errors import ValidationFailed
from gateway.services import receipts
from gateway.services.content import content_gate, render_message
from gateway.services.sending import send_all
from gateway.states import State
from gateway.store import cases as case_store
from gateway.store import history as history_store
from gateway.store import messages as message_store
from gateway.store import timeline
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M
from scheduler.caps import check as check_caps
from scheduler.decisions import CaseFacts, ContactFacts, Decision, MessageFacts, Touch, Verdict
from scheduler.policy import decide
from scheduler.zones import candidate_zones

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
                C.c.collector_role,
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
            )
            .join(C, C.c.id == M.c.case_id)
            .join(CP, CP.c.id == M.c.contact_id)
            .where(M.c.id.in_(ids))
        )
    )


@dataclass
class Decisions:
    """Every message's fate in this batch, as row updates and timeline entries."""

    now: datetime
    expired: list[str] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[dict[str, Any]] = field(default_factory=list)
    unrenderable: list[dict[str, Any]] = field(default_factory=list)
    sending: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def expire(self, row: Any) -> None:
        self.expired.append(row.id)
        self.entries.append(
            timeline.entry(
                row.case_id, "expired", self.now, message_id=row.id, reason="expires_at passed"
            )
        )

    def apply(self, row: Any, decision: Decision) -> None:
        reason = f"{decision.rule}: {decision.reason}"[:128]
        detail: dict[str, Any] = {
            "rule": decision.rule,
            "reason": decision.reason,
            "preset": decision.preset or None,
        }
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
            self.entries.append(
                timeline.entry(
                    row.case_id,
                    "deferred",
                    self.now,
                    message_id=row.id,
                    until=decision.until.isoformat(),
                    **detail,
                )
            )
        else:
            self.suppressed.append({"id": row.id, "state_reason": reason})
            self.entries.append(
                timeline.entry(
                    row.case_id,
                    "suppressed",
                    self.now,
                    message_id=row.id,
                    verdict=decision.verdict.value,
                    **detail,
                )
            )

    def fail_render(self, row: Any, message: str) -> None:
        self.unrenderable.append({"id": row.id, "state_reason": message[:128]})
        self.entries.append(
            timeline.entry(
                row.case_id, "failed", self.now, message_id=row.id, reason="template_error"
            )
        )

    def send(self, row: Any, rendered: dict[str, Any]) -> None:
        self.sending.append(
            {
                "id": row.id,
                "rendered": rendered,
                "attempts": row.attempts + 1,
                "attempted_at": self.now,
            }
        )

    async def write(self, conn: Any, token: str) -> None:
        now = self.now
        await message_store.transition(
            conn,
            self.expired,
            State.EXPIRED,
            now=now,
            held_by=token,
            state_reason="expires_at passed",
            lease_until=None,
        )
        await message_store.transition_each(
            conn, self.deferred, State.DEFERRED, now=now, held_by=token
        )
        await message_store.transition_each(
            conn, self.suppressed, State.SUPPRESSED, now=now, held_by=token
        )
        await message_store.transition_each(
            conn, self.unrenderable, State.FAILED, now=now, held_by=token
        )
        await message_store.transition_each(
            conn, self.sending, State.SENDING, now=now, held_by=token
        )
        await timeline.append(conn, self.entries)


def debtor_zones(row: Any, identity: frozenset[str], preset: Any) -> tuple[str, ...]:
    """The debtor's candidate zones: stated zone, postal address, every phone number (§6.4)."""
    if preset is None:
        return ()
    postal = row.debtor.get("postal_address") or {}
    lines = postal.get("lines") or []
    phones = tuple(sorted(a for a in identity if a.startswith("+")))
    country = postal.get("country", "") if postal else None
    return _zones_of(row.timezone, country, lines[-1] if lines else "", phones, preset)


_ZONES: dict[tuple[object, ...], tuple[Any, tuple[str, ...]]] = {}


def _zones_of(
    stated: str | None, country: str | None, line: str, phones: tuple[str, ...], preset: Any
) -> tuple[str, ...]:
    # Phone-number and address lookups repeat for every message of a debtor: memoized per
    # process. The entry holds the preset, so its id is not reused by another one meanwhile.
    key = (stated, country, line, phones, id(preset))
    cached = _ZONES.get(key)
    if cached is None or cached[0] is not preset:
        if len(_ZONES) > 65536:
            _ZONES.clear()
        address = {"country": country, "line": line} if country is not None else None
        cached = _ZONES[key] = (
            preset,
            tuple(candidate_zones(stated, address, list(phones), preset)),
        )
    return cached[1]


async def _serialize(conn: Any, message_id: str, addresses: set[str]) -> None:
    """Make this transaction the only one deciding for these debtors until it commits.

    PostgreSQL: transaction-scoped advisory locks on each contact identity, taken in sorted order
    so two workers never deadlock. SQLite: one writer at a time already; a first write takes the
    write lock (and the gateway's write gate) before the history is read.
    """
    if conn.dialect.name == "postgresql":
        for key in sorted({zlib.crc32(a.encode()) for a in addresses}):
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
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
    if not rows:
        return {"claimed": 0}

    templates = await rt.templates({r.template_id for r in rows})
    decisions = Decisions(now)
    candidates: list[tuple[Any, Outgoing, dict[str, Any]]] = []
    for row in rows:
        if row.expires_at is not None and row.expires_at <= now:
            decisions.expire(row)
            continue
        preset = rt.presets.get(row.preset)
        decision = decide(
            MessageFacts(row.channel, row.purpose, row.not_before),
            CaseFacts(
                row.case_state,
                row.case_state_reason,
                row.state_until,
                row.preset,
                zones=debtor_zones(row, debtors[row.case_id], preset),
            ),
            ContactFacts(row.channel, row.contact_status),
            now,
            preset=preset,
        )
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
        candidates.append((row, outgoing, rendered))

    to_send: list[tuple[Any, Outgoing]] = []
    async with rt.engine.begin() as conn:
        if candidates:
            addresses = set().union(*(debtors[r.case_id] for r, _, _ in candidates))
            await _serialize(conn, candidates[0][0].id, addresses)
            known = await history_store.touches(conn, addresses, now)
            added: dict[frozenset[str], list[Touch]] = {}
            for row, outgoing, rendered in candidates:
                identity = debtors[row.case_id]
                past = history_store.for_debtor(known, identity, excluding=row.id) + added.get(
                    identity, []
                )
                capped = check_caps(
                    row.channel, row.purpose, past, now, rt.cap_policy(row.preset), row.preset
                )
                if capped is not None:
                    decisions.apply(row, capped)
                    continue
                decisions.send(row, rendered)
                added.setdefault(identity, []).append(Touch(row.channel, now, row.purpose))
                to_send.append((row, outgoing))
        await decisions.write(conn, token)

    outcome = await send_all(rt, to_send)
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
