"""The operators' replies inbox: the replies a person must read (not understood, read with low
confidence, categories that need a person, senders on no case), listed for the key's tenant only;
one resolved by the category a person read in it, applied by the same effects as a reply read by
the gateway (`effects`). Replies received by letter or phone are recorded by `recorded`.

Pages go oldest first, by the order the gateway recorded replies in: the reply waiting longest is
read first, and a letter recorded today with last week's date is not slipped in before a page
already read. The cursor is opaque to clients.

A reply's text is shown here (the operator must read it) and kept off every log.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any

from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.replies import Category, Classification, Facts
from gateway.runtime import Runtime
from gateway.schemas.replies import (
    ReplyOut,
    ReplyPage,
    ReplyResolveIn,
    ResolutionOut,
)
from gateway.services import outbound, webhook_events
from gateway.services.replies import effects as reply_effects
from gateway.services.replies import matching
from gateway.store import cases as case_store
from gateway.store import replies as reply_store
from gateway.store import timeline
from gateway.store.keys import ApiKey

OPERATOR = "operator"  # the classifier version of a person's reading
MAX_ID = 2**31 - 1


def actor_of(key: ApiKey) -> str:
    return f"key:{key.name}"


async def list_(rt: Runtime, where: reply_store.Filter, limit: int) -> ReplyPage:
    async with rt.engine.connect() as conn:
        rows = await reply_store.page(conn, where, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return ReplyPage(
        replies=[out(r) for r in rows], next_cursor=cursor_of(rows[-1].id) if more else None
    )


async def get(rt: Runtime, key: ApiKey, reply_id: int) -> ReplyOut:
    async with rt.engine.connect() as conn:
        return out(await fetch(conn, key, reply_id))


async def resolve(rt: Runtime, key: ApiKey, reply_id: int, body: ReplyResolveIn) -> ReplyOut:
    """Apply what a person read in an open reply, as that person, and close it (see the module
    docstring). Conflict when it is not open; NotFound for a case the key cannot see."""
    now, actor = rt.clock(), actor_of(key)
    category = Category(body.category)
    due: list[tuple[str, str]] = []
    async with rt.engine.begin() as conn:
        row = await fetch(conn, key, reply_id, lock=True)
        if row.status != reply_store.OPEN:
            raise _not_open(row)
        case = await _case(conn, key, row, body.case_ref)
        promise = _promise(category, body, row)
        attach_to, contact_id = None, row.contact_id
        if case is not None and row.case_id is None:
            attach_to = case.id
            found = await matching.on_case(
                conn, case.id, matching.CONTACT_CHANNEL.get(row.channel), row.from_addr
            )
            contact_id = found.id
        closed = await reply_store.resolve(
            conn,
            reply_id,
            category=category.value,
            note=body.note,
            by=actor,
            now=now,
            case_id=attach_to,
            contact_id=contact_id,
        )
        if not closed:  # resolved by someone else meanwhile
            raise _not_open(await fetch(conn, key, reply_id))
        if case is not None:
            due = await _apply(conn, rt, now, row, case, contact_id, category, promise, body, actor)
        resolved = await fetch(conn, key, reply_id)
    await outbound.enqueue(rt, due)
    return out(resolved)


async def _apply(
    conn: Any,
    rt: Runtime,
    now: datetime,
    row: Any,
    case: Any,
    contact_id: int | None,
    category: Category,
    promise: date | None,
    body: ReplyResolveIn,
    actor: str,
) -> list[tuple[str, str]]:
    """The resolution on the case's timeline, then the category's effects, as the operator."""
    attached = row.case_id is None
    await timeline.append(
        conn,
        [
            timeline.entry(
                case.id,
                "reply_resolved",
                now,
                actor=actor,
                reply_id=row.id,
                category=category.value,
                read_before=row.category,
                note=body.note,
                attached=attached,
            )
        ],
    )
    if attached:  # upstream hears of the reply now that it is on one of its cases
        told = webhook_events.reply_received(
            case, row.id, row.channel, category.value, categories=[category.value]
        )
        await webhook_events.emit(conn, [told], now)
    reading = Classification(
        categories=(category,),
        facts=Facts(promise_date=promise, rules=(f"{OPERATOR}.{category.value}",)),
        confidence=1.0,
        version=OPERATOR,
    )
    outcome = await reply_effects.apply(
        conn,
        reply_effects.Reply(
            row.id, row.channel, row.body, case, await matching.contact(conn, contact_id)
        ),
        reading,
        rt.presets.get(case.preset),
        now,
        cadences=rt.cadences,
        actor=actor,
    )
    await reply_store.set_resolution_effects(conn, row.id, outcome.effects)
    return outcome.due


async def fetch(conn: Any, key: ApiKey, reply_id: int, *, lock: bool = False) -> Any:
    row = await reply_store.get(conn, key.tenant, reply_id, lock=lock)
    if row is None:
        raise NotFound(f"no reply {reply_id}", code="unknown_reply")
    return row


async def _case(conn: Any, key: ApiKey, row: Any, case_ref: str | None) -> Any | None:
    """The case the resolution acts on: the reply's own, or the one `case_ref` attaches it to."""
    if case_ref is not None and row.case_ref is not None and case_ref != row.case_ref:
        raise Conflict(
            f"the reply is on case {row.case_ref!r}; only a reply from a sender on no case is "
            "attached to one",
            code="reply_on_another_case",
        )
    if row.case_id is not None:
        return await matching.case(conn, row.case_id)
    if case_ref is None:
        return None
    case = await case_store.get(conn, key.tenant, case_ref)
    if case is None:
        raise NotFound(f"no case {case_ref!r}", code="unknown_case")
    return case


def _promise(category: Category, body: ReplyResolveIn, row: Any) -> date | None:
    """The promised date a promise to pay is resolved with: the operator's, else the one read."""
    if category is not Category.PROMISE_TO_PAY:
        if body.promise_date is not None:
            raise ValidationFailed(
                f"promise_date goes with the category promise_to_pay, not {category.value}",
                details=[{"field": "promise_date", "problem": "not expected", "type": "extra"}],
            )
        return None
    if body.promise_date is not None:
        return body.promise_date
    read = (row.facts or {}).get("promise_date")
    if read is None:
        raise ValidationFailed(
            "a promise to pay needs its date: give promise_date (none was read in the reply)",
            details=[{"field": "promise_date", "problem": "required", "type": "missing"}],
        )
    return date.fromisoformat(read)


def _not_open(row: Any) -> Conflict:
    if row.status == reply_store.RESOLVED:
        return Conflict(
            f"the reply was resolved by {row.resolved_by} at {row.resolved_at.isoformat()}",
            code="reply_resolved",
        )
    return Conflict(
        "the reply was acted on automatically; it is not waiting for a person",
        code="reply_not_in_inbox",
    )


def out(row: Any) -> ReplyOut:
    resolution = None
    if row.status == reply_store.RESOLVED:
        resolution = ResolutionOut(
            category=row.resolution,
            note=row.resolution_note,
            by=row.resolved_by,
            at=row.resolved_at,
            effects=row.resolution_effects or [],
        )
    return ReplyOut.model_validate(
        {
            "id": row.id,
            "case_ref": row.case_ref,
            "channel": row.channel,
            "from": row.from_addr,
            "received_at": row.received_at,
            "body": row.body,
            "category": row.category,
            "categories": row.categories or [row.category],
            "confidence": row.confidence,
            "facts": row.facts,
            "effects": row.effects or [],
            "review_reasons": row.review_reasons or [],
            "status": row.status or "automatic",
            "resolution": resolution,
        }
    )


def cursor_of(reply_id: int) -> str:
    return base64.urlsafe_b64encode(f"r{reply_id}".encode()).decode().rstrip("=")


def after_of(cursor: str | None) -> int:
    """The reply id a cursor this API returned stands for; ValidationFailed for any other."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        value = int(text[1:]) if text.startswith("r") and text[1:].isdigit() else -1
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = -1
    if not 0 < value <= MAX_ID:
        raise ValidationFailed(
            "cursor: not one this API returned; pass next_cursor of the previous page",
            details=[{"field": "cursor", "problem": "invalid", "type": "value_error"}],
        )
    return value
