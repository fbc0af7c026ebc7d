"""Reminders: enqueue one or a batch; read a message back; cancel one still waiting."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import web

from gateway.api.base import api_key, json_response, parse, read_json, requires, runtime, validate
from gateway.errors import BadRequest, GatewayError, NotFound, PayloadTooLarge
from gateway.schemas import (
    BatchIn,
    BatchOut,
    DeliveryEventOut,
    MessageOut,
    ReminderIn,
    ReminderResult,
    TimelineEntryOut,
    WaitingOut,
)
from gateway.services import intake, message_cancel
from gateway.store import messages as message_store
from gateway.store import timeline
from gateway.store.tables import cases as C
from gateway.store.tables import delivery_events as DE
from gateway.store.tables import template_versions as TV

routes = web.RouteTableDef()
MAX_BATCH = 1000


@routes.post("/v1/reminders")
@requires("reminders:write")
async def post_reminder(request: web.Request) -> web.Response:
    item = await parse(request, ReminderIn)
    [result] = await intake.accept(runtime(request), api_key(request), [item])
    if result.status == "rejected":
        assert result.error is not None
        error = GatewayError(result.error["message"], code=result.error["code"])
        error.status = result.http_status
        raise error
    return json_response(
        ReminderResult(status=result.status, id=result.id, state=result.state),
        status=result.http_status,
    )


@routes.post("/v1/reminders/batch")
@requires("reminders:write")
async def post_batch(request: web.Request) -> web.Response:
    data = await read_json(request)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise BadRequest('the body is {"items": [ ...reminders ]}', code="bad_batch")
    if not data["items"]:
        raise BadRequest("the batch is empty", code="empty_batch")
    if len(data["items"]) > MAX_BATCH:
        raise PayloadTooLarge(
            f"a batch holds at most {MAX_BATCH} reminders", code="batch_too_large"
        )
    batch = validate(BatchIn, data)
    results = await intake.accept(runtime(request), api_key(request), batch.items)
    out = BatchOut(
        accepted=sum(r.status == "accepted" for r in results),
        duplicates=sum(r.status == "duplicate" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=[
            ReminderResult(
                index=i,
                status=r.status,
                id=r.id,
                state=r.state,
                error={**r.error, "status": r.http_status} if r.error else None,
            )
            for i, r in enumerate(results)
        ],
    )
    return json_response(out, status=202)


def _waiting(row: Any, history: list[dict[str, Any]]) -> WaitingOut | None:
    if row.state not in ("accepted", "deferred", "retry_wait"):
        return None
    last = next(
        (h for h in reversed(history) if h["kind"] in ("deferred", "retry_scheduled")), None
    )
    if last is None:
        return WaitingOut(
            rule="message.not_before" if row.not_before else None,
            preset=None,
            reason="queued",
            until=row.next_attempt_at,
        )
    data = last["data"]
    return WaitingOut(
        rule=data.get("rule") or last["kind"],
        preset=data.get("preset"),
        preset_version=data.get("preset_version"),
        reason=data.get("reason"),
        until=row.next_attempt_at,
    )


@routes.get("/v1/messages/{message_id}")
@requires("cases:read")
async def get_message(request: web.Request) -> web.Response:
    return json_response(await _message(request))


@routes.delete("/v1/messages/{message_id}")
@requires("reminders:write")
async def delete_message(request: web.Request) -> web.Response:
    """Cancel a waiting message (again: no change); answers with the message as it now is."""
    await message_cancel.cancel_one(
        runtime(request), api_key(request), request.match_info["message_id"]
    )
    return json_response(await _message(request))


async def _message(request: web.Request) -> MessageOut:
    message_id = request.match_info["message_id"]
    rt = runtime(request)
    async with rt.engine.connect() as conn:
        row = (
            await message_store.get(conn, message_id, api_key(request).tenant)
            if len(message_id) <= 32
            else None
        )
        if row is None:
            raise NotFound(f"no message {message_id!r}", code="unknown_message")
        case_ref = (
            await conn.execute(sa.select(C.c.case_ref).where(C.c.id == row.case_id))
        ).scalar_one()
        template = (await conn.execute(sa.select(TV).where(TV.c.id == row.template_id))).one()
        events = list(
            await conn.execute(
                sa.select(DE).where(DE.c.message_id == row.id).order_by(DE.c.occurred_at, DE.c.id)
            )
        )
        history = await timeline.for_message(conn, row.case_id, row.id)
    return MessageOut(
        id=row.id,
        case_ref=case_ref,
        channel=row.channel,
        template=template.key,
        template_version=template.version,
        locale=template.locale,
        state=row.state,
        state_reason=row.state_reason,
        attempts=row.attempts,
        provider=row.provider,
        provider_ref=row.provider_ref,
        not_before=row.not_before,
        expires_at=row.expires_at,
        next_attempt_at=row.next_attempt_at
        if row.state in ("accepted", "deferred", "retry_wait")
        else None,
        created_at=row.created_at,
        sent_at=row.sent_at,
        rendered=row.rendered,
        history=[TimelineEntryOut.model_validate(h) for h in history],
        waiting=_waiting(row, history),
        events=[
            DeliveryEventOut(
                type=e.event_type,
                provider=e.provider,
                occurred_at=e.occurred_at,
                reject_reason=e.reject_reason,
                description=e.description,
            )
            for e in events
        ],
    )
