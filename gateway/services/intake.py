"""Intake: validate reminders against the database, persist them in one transaction, enqueue ids.

The order matters: the messages (and their `accepted` timeline entries) are committed first, and
only then are dispatch jobs enqueued. If Redis loses the jobs, the scheduler's pump finds the
messages again by `enqueued_at`.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.runtime import Runtime
from gateway.schemas import ReminderIn, normalize_address
from gateway.services import outbound
from gateway.services.content import preview_problem
from gateway.states import State
from gateway.store import cases as case_store
from gateway.store import templates as template_store
from gateway.store.keys import ApiKey
from gateway.store.tables import messages as M


@dataclass(slots=True)
class ItemResult:
    status: Literal["accepted", "duplicate", "rejected"]
    id: str | None = None
    state: str | None = None
    error: dict[str, Any] | None = None
    http_status: int = 202


def _reject(code: str, message: str, http_status: int) -> ItemResult:
    return ItemResult("rejected", error={"code": code, "message": message}, http_status=http_status)


def request_hash(item: ReminderIn) -> str:
    return hashlib.sha256(
        orjson.dumps(item.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


async def accept(rt: Runtime, key: ApiKey, items: list[ReminderIn]) -> list[ItemResult]:
    """Accept reminders; one result per item, in order. Retries once on an idempotency race."""
    try:
        return await _accept(rt, key, items)
    except IntegrityError:
        # Another request inserted one of our idempotency keys between our read and our commit;
        # nothing of ours was written. The second pass sees theirs and answers `duplicate`.
        return await _accept(rt, key, items)


async def _accept(rt: Runtime, key: ApiKey, items: list[ReminderIn]) -> list[ItemResult]:
    async with rt.engine.begin() as conn:
        results, due = await accept_in(conn, rt, key, items)
    await outbound.enqueue(rt, due)
    return results


async def accept_in(
    conn: AsyncConnection, rt: Runtime, key: ApiKey, items: list[ReminderIn]
) -> tuple[list[ItemResult], list[tuple[str, str]]]:
    """Accept reminders in the caller's transaction: one result per item, in order, and the
    (id, channel) of each message to enqueue once the transaction has committed."""
    now = rt.clock()
    hashes = [request_hash(item) for item in items]
    results: list[ItemResult | None] = [None] * len(items)
    rows: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []

    existing = {
        r.idempotency_key: r
        for r in await conn.execute(
            sa.select(M.c.id, M.c.idempotency_key, M.c.request_hash, M.c.state).where(
                M.c.api_key_id == key.id,
                M.c.idempotency_key.in_(sorted({i.idempotency_key for i in items})),
            )
        )
    }
    case_map = await case_store.for_intake(conn, key.tenant, {i.case_ref for i in items})
    published = await template_store.published(conn)
    template_keys = {k for k, _, _ in published}
    seen: dict[str, tuple[str, str]] = {}  # idempotency key → (hash, id) within this request

    for index, (item, digest) in enumerate(zip(items, hashes, strict=True)):
        prior = existing.get(item.idempotency_key)
        if prior is not None or item.idempotency_key in seen:
            prior_hash, prior_id, prior_state = (
                (prior.request_hash, prior.id, prior.state)
                if prior is not None
                else (*seen[item.idempotency_key], State.ACCEPTED.value)
            )
            results[index] = (
                ItemResult("duplicate", prior_id, prior_state, http_status=200)
                if prior_hash == digest
                else _reject(
                    "idempotency_conflict",
                    "this idempotency key was already used with a different request",
                    409,
                )
            )
            continue
        found = case_map.get(item.case_ref)
        if found is None:
            results[index] = _reject("unknown_case", f"no case {item.case_ref!r}", 404)
            continue
        case, contacts = found
        template_id = template_store.pick(published, item.template, item.channel, case.locale)
        if template_id is None:
            if item.template not in template_keys:
                results[index] = _reject(
                    "unknown_template",
                    unknown_template(item.template, item.channel, published),
                    422,
                )
            else:
                results[index] = _reject(
                    "template_unavailable",
                    f"template {item.template!r} has no published {item.channel} version",
                    422,
                )
            continue
        contact, problem = _pick_contact(item, contacts)
        if contact is None:
            results[index] = _reject("no_contact_point", problem, 422)
            continue
        if item.expires_at is not None and item.expires_at <= now:
            results[index] = _reject("already_expired", "expires_at is in the past", 422)
            continue
        template = (await rt.templates({template_id}))[template_id]
        refused = preview_problem(rt, item, case, contact, template, now)
        if refused is not None:
            results[index] = _reject(refused[0], refused[1], 422)
            continue

        row, entry = outbound.accepted(
            outbound.NewMessage(
                tenant=key.tenant,
                case_id=case.id,
                contact_id=contact.id,
                channel=item.channel,
                template_id=template_id,
                template=item.template,
                purpose=template.meta.get("purpose", "reminder"),
                idempotency_key=item.idempotency_key,
                request_hash=digest,
                actor=f"key:{key.name}",
                api_key_id=key.id,
                not_before=item.not_before,
                expires_at=item.expires_at,
                data=item.data,
            ),
            now,
        )
        rows.append(row)
        entries.append(entry)
        seen[item.idempotency_key] = (digest, row["id"])
        results[index] = ItemResult("accepted", row["id"], State.ACCEPTED.value)

    await outbound.insert(conn, rows, entries)
    return [r for r in results if r is not None], outbound.due(rows)


def _pick_contact(item: ReminderIn, contacts: list[Any]) -> tuple[Any | None, str]:
    if item.channel == "letter":
        candidates = [c for c in contacts if c.channel == "letter"]
        if not candidates:
            return None, "the case has no postal address"
    else:
        candidates = [c for c in contacts if c.channel == item.channel]
        if item.to is not None:
            try:
                wanted = normalize_address(item.channel, item.to)
            except ValueError as exc:
                return None, f"to: {exc}"
            candidates = [c for c in candidates if c.address == wanted]
            if not candidates:
                return None, f"'to' is not one of the case's {item.channel} contact points"
        else:
            # Only a message explicitly addressed to a third party goes to one (and the policy
            # then decides; the built-in presets suppress it).
            candidates = [c for c in candidates if c.role != "third_party"]
        if not candidates:
            return None, f"the case has no {item.channel} contact point"
    active = [c for c in candidates if c.status == case_store.ACTIVE]
    # An opted-out or invalid point is still chosen when it is the only one: the message is then
    # suppressed by policy, with the reason on the timeline, rather than silently refused here.
    return (active or candidates)[0], ""


def unknown_template(name: str, channel: str, published: Iterable[tuple[str, str, str]]) -> str:
    """The error for a template name nobody published: the closest name, if one is close, and
    every template the channel has, so a typo is fixed without a round trip to operations."""
    known = sorted({key for key, ch, _ in published if ch == channel})
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    parts = [f"no template {name!r}"] + [f"did you mean {c!r}?" for c in close]
    parts.append(f"known {channel} templates: {', '.join(known) or 'none'}")
    return "; ".join(parts)
