"""Replies from debtors: matched to their case, read, acted on, and put on its timeline.

An email reply to a case's reply address (or an auto-reply to a message's VERP return path) goes
to the case its signed token names, whichever mailbox it was written from; the sender's address
is kept as it was. Anything else is matched by the sender's address; a letter or a call an
operator records is on the case they name (`matching`).

Every reply is classified (`gateway.replies`); on a matched case its effects are applied in the
same transaction that stores it, before anything else can be sent (`effects`): opt-outs,
holds, pauses, the gateway's own answers. The answers and the messages the reply made due are
enqueued once that transaction has committed. Auto-replies are stored as `auto_reply` and are
never read as the debtor's words. A reply from an unknown sender is kept with no case, flagged
for operations to triage, and belongs to the tenant owning the address it was sent to
(`gateway.reply_tenants`); every other reply is its case's tenant's. A reply a person must look
at is `open` in the operators' inbox (`inbox`) with the reasons why. A message the provider has
already given us (the same Twilio MessageSid, the same Message-ID) is the reply stored the first
time: a replayed callback is acknowledged and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.events import InboundMessage
from gateway import reply_tenants
from gateway.replies import Classification, classify
from gateway.runtime import Runtime
from gateway.schemas import normalize_address
from gateway.services import outbound, webhook_events
from gateway.services.replies import effects as reply_effects
from gateway.services.replies import matching
from gateway.store import timeline
from gateway.store.tables import cases as C
from gateway.store.tables import replies as R
from scheduler.presets import Preset
from scheduler.zones import phone_zones

AUTO_REPLY = "auto_reply"
OPEN = "open"  # replies.status while a person must look
NO_CASE = "the sender is on no case"
REF_MAX = 128  # replies.provider_ref


@dataclass
class Recorded:
    """What `record` stored (one `{reply_id, case_ref, category, categories}` per message) and the
    (message id, channel) pairs to enqueue once the transaction has committed."""

    replies: list[dict[str, Any]] = field(default_factory=list)
    due: list[tuple[str, str]] = field(default_factory=list)


async def receive(rt: Runtime, messages: Sequence[InboundMessage]) -> list[dict[str, Any]]:
    """Record and act on replies in one transaction, then enqueue what they made due."""
    async with rt.engine.begin() as conn:
        recorded = await record(conn, rt, messages, rt.clock())
    await outbound.enqueue(rt, recorded.due)
    return recorded.replies


async def record(
    conn: AsyncConnection,
    rt: Runtime,
    messages: Sequence[InboundMessage],
    now: datetime,
    *,
    case_id: int | None = None,
    recorded_by: str | None = None,
) -> Recorded:
    """Store, classify and apply replies in the caller's transaction (see the module docstring).

    A reply's time is the gateway's clock when it is recorded: the policy compares it with the
    same clock (the inbound grace of compliance §6.5). One an operator records (`recorded_by`,
    on the case `case_id`: a letter, a call) was received when they say: its dates are read from
    that day, its effects are applied now."""
    out = Recorded()
    secret = rt.settings.secret
    owners = reply_tenants.parse(rt.settings.reply_tenants)
    for msg in messages:
        address = _address(msg)
        received = msg.received_at if recorded_by else now
        match, routed_by = await matching.match(
            conn, secret, msg, address, case_id=case_id, tenant=owners.named(msg.to_addr)
        )
        case = await matching.case(conn, match.case_id) if match is not None else None
        preset = rt.presets.get(case.preset) if case is not None else None
        result = None
        if not msg.raw.get("auto_reply"):
            result = classify(
                msg.body,
                today=_local_date(
                    received, case, preset, address if msg.channel == "sms" else None
                ),
                locale=case.locale if case is not None else "en",
            )
        category = AUTO_REPLY if result is None else result.primary.value
        ref = reference(msg.provider_ref)
        # Nobody owns a reply from an unknown sender until a person triages it.
        unowned = [NO_CASE] if match is None and result is not None else []
        reply_id = (
            await conn.execute(
                _insert(conn)
                .values(
                    case_id=match.case_id if match else None,
                    contact_id=match.id if match else None,
                    tenant=case.tenant if case is not None else owners.owner(msg.to_addr),
                    channel=msg.channel,
                    provider=msg.provider,
                    provider_ref=ref,
                    from_addr=address,
                    to_addr=msg.to_addr,
                    body=msg.body,
                    received_at=received,
                    raw=msg.raw,
                    **_review(unowned),
                    **_classified(category, result),
                )
                .on_conflict_do_nothing(index_elements=["provider", "provider_ref"])
                .returning(R.c.id)
            )
        ).scalar_one_or_none()
        if reply_id is None:
            # Seen before (a replay, a retried delivery): acknowledged, nothing done twice.
            out.replies.append(await _duplicate(conn, msg.provider, ref))
            continue
        stored: dict[str, Any] = {
            "reply_id": reply_id,
            "case_ref": match.case_ref if match else None,
            "category": category,
            "categories": [c.value for c in result.categories] if result else [category],
        }
        out.replies.append(stored)
        if case is None:
            continue
        detail = {"recorded_by": recorded_by} if recorded_by else {}
        await timeline.append(
            conn,
            [
                timeline.entry(
                    case.id,
                    "reply_received",
                    now,
                    actor=f"debtor:{msg.channel}",
                    reply_id=reply_id,
                    channel=msg.channel,
                    category=category,
                    categories=stored["categories"],
                    confidence=result.confidence if result else None,
                    classifier_version=result.version if result else None,
                    routed_by=routed_by,
                    body=msg.body,
                    **detail,
                )
            ],
        )
        told = webhook_events.reply_received(
            case,
            reply_id,
            msg.channel,
            category,
            categories=stored["categories"],
            facts=result.facts.as_dict() if result else None,
        )
        await webhook_events.emit(conn, [told], now)
        if result is None or match is None:
            continue
        contact = await matching.contact(conn, match.id)
        outcome = await reply_effects.apply(
            conn,
            reply_effects.Reply(reply_id, msg.channel, msg.body, case, contact),
            result,
            preset,
            now,
            cadences=rt.cadences,
        )
        await conn.execute(
            sa.update(R)
            .where(R.c.id == reply_id)
            .values(effects=outcome.effects, **_review(outcome.review))
        )
        out.due.extend(outcome.due)
    return out


def _address(msg: InboundMessage) -> str:
    """The sender's address as contact points hold it (a call's number as an SMS one)."""
    if msg.channel == "letter" or not msg.from_addr:
        return msg.from_addr
    try:
        return normalize_address("sms" if msg.channel == "phone" else msg.channel, msg.from_addr)
    except ValueError:
        return msg.from_addr


def _review(reasons: list[str]) -> dict[str, Any]:
    """The inbox columns of a reply: open with its reasons when a person must look."""
    if not reasons:
        return {"needs_review": False, "status": None, "review_reasons": None}
    return {"needs_review": True, "status": OPEN, "review_reasons": reasons}


def reference(provider_ref: str | None) -> str | None:
    """The stored form of a provider's id for an inbound message: as given, or a digest of one
    longer than the column (a Message-ID may be hundreds of characters; the raw keeps it whole)."""
    if provider_ref is None or len(provider_ref) <= REF_MAX:
        return provider_ref
    return "sha256:" + hashlib.sha256(provider_ref.encode()).hexdigest()


def _insert(conn: AsyncConnection) -> Any:
    return postgresql.insert(R) if conn.dialect.name == "postgresql" else sqlite.insert(R)


async def _duplicate(conn: AsyncConnection, provider: str, ref: str | None) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(R.c.id, R.c.category, R.c.categories, C.c.case_ref)
            .select_from(R)
            .outerjoin(C, C.c.id == R.c.case_id)
            .where(R.c.provider == provider, R.c.provider_ref == ref)
        )
    ).one()
    return {
        "reply_id": row.id,
        "case_ref": row.case_ref,
        "category": row.category,
        "categories": row.categories or [row.category],
        "duplicate": True,
    }


def _classified(category: str, result: Classification | None) -> dict[str, Any]:
    if result is None:
        return {"category": category}
    return {
        "category": category,
        "categories": [c.value for c in result.categories],
        "facts": result.facts.as_dict(),
        "confidence": result.confidence,
        "classifier_version": result.version,
    }


def _local_date(now: datetime, case: Any, preset: Preset | None, phone: str | None) -> date:
    """The date the debtor wrote on, where they are: "tomorrow" at 23:30 in Los Angeles is not
    the day after 07:30 UTC. Zones from the case's stated zone, else the sender's number, else the
    preset's fallback; when they disagree, the latest date (a promise is read at its latest)."""
    zones: list[str] = []
    if case is not None and case.timezone:
        zones = [case.timezone]
    elif phone:
        zones = phone_zones(phone)
    if not zones and preset is not None:
        zones = preset.fallback_zones
    if not zones:
        return now.date()
    return max(now.astimezone(ZoneInfo(z)).date() for z in zones)
