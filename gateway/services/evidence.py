"""The evidence export: every touch of a case, one JSON line per record, in time order.

Lines, each with a `type`:
- `case`: the case as it stands (ref, preset, role, state), at its creation;
- `message`: one per message, at its acceptance: the exact rendered content as stored when it
  was handed to a provider, the pinned template version (key, channel, locale, version), and
  `decision`, the policy's ALLOW with the preset and its version (the decisions that held it
  back — deferred, suppressed, review… with their rule, preset and version — are its
  `timeline` lines);
- `receipt`: every delivery event of the case's messages, with the provider's raw payload;
- `reply`: every reply, with what the classifier read (categories, facts, confidence, version)
  and the effects it had;
- `timeline`: every timeline entry, with its hash-chain link and digest (`gateway.store.chain`
  says how to recompute them);
- `chain`: last, one per case: the chain's head (digest, entry, count) and, for a one-case
  export, whether the case's chain verifies.

The records are merged from one query per kind, each ordered by the gateway's clock, read on one
connection (on PostgreSQL in one REPEATABLE READ transaction: a consistent snapshot), and
written as they come: an export of many cases never sits in memory whole. Timelines are sealed
first, so every entry exported carries its digest.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.services import chain as chain_service
from gateway.store import cases as case_store
from gateway.store import chain, evidence
from gateway.store.evidence import Scope

PIN = ("template_id", "template", "version", "locale", "decision")


def encode(record: dict[str, Any]) -> bytes:
    """One line of the export."""
    try:
        return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS) + b"\n"
    except TypeError:  # an integer beyond 64 bits in stored JSON
        return json.dumps(record, default=str, ensure_ascii=False).encode() + b"\n"


def _case(r: Any) -> dict[str, Any]:
    return {
        "type": "case",
        "at": r.created_at,
        "case_ref": r.case_ref,
        "tenant": r.tenant,
        "preset": r.preset,
        "collector_role": r.collector_role,
        "locale": r.locale,
        "timezone": r.timezone,
        "state": r.state,
        "state_reason": r.state_reason,
        "state_until": r.state_until,
        "updated_at": r.updated_at,
    }


def _message(r: Any) -> dict[str, Any]:
    rendered = r.rendered or None
    return {
        "type": "message",
        "at": r.created_at,
        "case_ref": r.case_ref,
        "message_id": r.id,
        "channel": r.channel,
        "purpose": r.purpose,
        "to": r.to_address,
        "template": {
            "id": r.template_id,
            "key": r.template_key,
            "channel": r.template_channel,
            "locale": r.template_locale,
            "version": r.template_version,
        },
        "content": {k: v for k, v in rendered.items() if k not in PIN} if rendered else None,
        "decision": rendered.get("decision") if rendered else None,
        "state": r.state,
        "state_reason": r.state_reason,
        "attempts": r.attempts,
        "provider": r.provider,
        "provider_ref": r.provider_ref,
        "idempotency_key": r.idempotency_key,
        "not_before": r.not_before,
        "expires_at": r.expires_at,
        "attempted_at": r.attempted_at,
        "sent_at": r.sent_at,
    }


def _receipt(r: Any) -> dict[str, Any]:
    return {
        "type": "receipt",
        "at": r.received_at,
        "case_ref": r.case_ref,
        "message_id": r.message_id,
        "event": r.event_type,
        "provider": r.provider,
        "provider_ref": r.provider_ref,
        "event_id": r.event_id,
        "reject_reason": r.reject_reason,
        "description": r.description,
        "occurred_at": r.occurred_at,
        "raw": r.raw,
    }


def _reply(r: Any) -> dict[str, Any]:
    return {
        "type": "reply",
        "at": r.received_at,
        "case_ref": r.case_ref,
        "reply_id": r.id,
        "channel": r.channel,
        "provider": r.provider,
        "provider_ref": r.provider_ref,
        "from": r.from_addr,
        "to": r.to_addr,
        "body": r.body,
        "category": r.category,
        "categories": r.categories,
        "facts": r.facts,
        "confidence": r.confidence,
        "classifier_version": r.classifier_version,
        "effects": r.effects,
        "needs_review": r.needs_review,
        # The operators' inbox: why a person had to look, and what they read and did.
        "status": r.status,
        "review_reasons": r.review_reasons,
        "resolution": r.resolution,
        "resolution_note": r.resolution_note,
        "resolution_effects": r.resolution_effects,
        "resolved_by": r.resolved_by,
        "resolved_at": r.resolved_at,
    }


def _timeline(r: Any) -> dict[str, Any]:
    return {
        "type": "timeline",
        "at": r.at,
        "case_ref": r.case_ref,
        "entry": r.id,
        "kind": r.kind,
        "message_id": r.message_id,
        "actor": r.actor,
        "data": r.data,
        "prev_digest": r.prev_digest,
        "digest": r.digest,
    }


# Kinds in the order they are written at one instant: a message before the entry recording it.
SOURCES = (
    (evidence.cases, _case),
    (evidence.messages, _message),
    (evidence.receipts, _receipt),
    (evidence.replies, _reply),
    (evidence.timeline, _timeline),
)


async def _stream(conn: AsyncConnection, rank: int, scope: Scope) -> AsyncIterator[Any]:
    query, shape = SOURCES[rank]
    result = await conn.stream(query(scope))
    async for row in result:
        yield row, shape(row)


async def _merged(conn: AsyncConnection, scope: Scope) -> AsyncIterator[tuple[Any, dict[str, Any]]]:
    """Every source's rows, merged by (time, kind, id)."""
    streams = [_stream(conn, rank, scope) for rank in range(len(SOURCES))]
    heap: list[tuple[datetime, int, int, Any, dict[str, Any]]] = []
    for rank, stream in enumerate(streams):
        async for row, record in stream:
            heap.append((record["at"], rank, row.id, row, record))
            break
    heapq.heapify(heap)
    while heap:
        _, rank, _, row, record = heapq.heappop(heap)
        yield row, record
        async for following, shaped in streams[rank]:
            heapq.heappush(heap, (shaped["at"], rank, following.id, following, shaped))
            break


async def find_case(engine: AsyncEngine, tenant: str, case_ref: str) -> int | None:
    """The case's id in `tenant`, or None: another tenant's case is as unknown as no case."""
    async with engine.connect() as conn:
        found = await case_store.get(conn, tenant, case_ref)
    return found.id if found is not None else None


async def export(
    engine: AsyncEngine, scope: Scope, clock: Callable[[], datetime]
) -> AsyncIterator[bytes]:
    """The export's lines. Seal first: every entry exported carries its digest. The `chain`
    lines are stamped when they are written, after every record they close."""
    await chain_service.seal_pending(engine, case_id=scope.case_id)
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            entries: list[Any] = []
            seen: dict[int, tuple[str, str]] = {}
            async for row, record in _merged(conn, scope):
                if record["type"] == "timeline":
                    seen.setdefault(row.case_id, (row.case_ref, record["at"]))
                    if scope.case_id is not None:
                        entries.append(row)
                elif record["type"] == "case":
                    seen.setdefault(row.id, (row.case_ref, record["at"]))
                yield encode(record)
            heads = await chain.heads(conn, seen)
    now = clock()
    for case_id, head in sorted(heads.items()):
        line: dict[str, Any] = {
            "type": "chain",
            "at": now,
            "case_ref": seen[case_id][0],
            "digest": head.digest or None,
            "entry": head.entry,
            "count": head.count,
        }
        if scope.case_id is not None:
            sealed, unsealed, problems = chain_service.check_case(
                scope.tenant, seen[case_id][0], head, entries
            )
            line.update(
                verified=not problems, unsealed=unsealed, problems=[str(p) for p in problems]
            )
        yield encode(line)
