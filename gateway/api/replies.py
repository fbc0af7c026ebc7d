"""The operators' replies inbox: list and read replies, resolve one, record one received by
letter or phone (`gateway.services.replies.inbox`). Scope `ops`."""

from __future__ import annotations

from typing import get_args

from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from gateway.api.base import api_key, json_response, parse, requires, runtime
from gateway.api.cases import case_ref_of
from gateway.errors import ValidationFailed
from gateway.replies import Category
from gateway.schemas import Ref
from gateway.schemas.replies import RecordedChannel, ReplyRecordIn, ReplyResolveIn
from gateway.services.replies import inbox, recorded
from gateway.store import replies as reply_store

routes = web.RouteTableDef()

STATUSES = {
    "open": (reply_store.OPEN,),
    "resolved": (reply_store.RESOLVED,),
    "all": reply_store.INBOX,
}
CHANNELS: tuple[str, ...] = get_args(RecordedChannel)
CATEGORIES = tuple(c.value for c in Category)
DEFAULT_LIMIT, MAX_LIMIT = 50, 200


def _invalid(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{name}: {message}", details=[{"field": name, "problem": message, "type": "value_error"}]
    )


def _choice(request: web.Request, name: str, known: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in known:
        raise _invalid(name, f"{value!r} is not one of {', '.join(known)}")
    return value


def _filter(request: web.Request) -> tuple[reply_store.Filter, int]:
    status = _choice(request, "status", tuple(STATUSES)) or "open"
    case_ref = request.query.get("case_ref")
    if case_ref is not None:
        try:
            TypeAdapter(Ref).validate_python(case_ref)
        except ValidationError:
            raise _invalid("case_ref", "1-128 characters of letters, digits and . _ : -") from None
    raw_limit = request.query.get("limit", str(DEFAULT_LIMIT))
    if not (raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT):
        raise _invalid("limit", f"a whole number from 1 to {MAX_LIMIT}")
    where = reply_store.Filter(
        tenant=api_key(request).tenant,
        statuses=STATUSES[status],
        category=_choice(request, "category", CATEGORIES),
        case_ref=case_ref,
        channel=_choice(request, "channel", CHANNELS),
        after=inbox.after_of(request.query.get("cursor")),
    )
    return where, int(raw_limit)


def _reply_id(request: web.Request) -> int:
    raw = request.match_info["reply_id"]
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= inbox.MAX_ID):
        raise _invalid("reply_id", f"a whole number from 1 to {inbox.MAX_ID}")
    return int(raw)


@routes.get("/v1/replies")
@requires("ops")
async def get_replies(request: web.Request) -> web.Response:
    where, limit = _filter(request)
    return json_response(await inbox.list_(runtime(request), where, limit))


@routes.get("/v1/replies/{reply_id}")
@requires("ops")
async def get_reply(request: web.Request) -> web.Response:
    reply_id = _reply_id(request)
    return json_response(await inbox.get(runtime(request), api_key(request), reply_id))


@routes.post("/v1/replies/{reply_id}/resolve")
@requires("ops")
async def post_resolve(request: web.Request) -> web.Response:
    reply_id = _reply_id(request)
    body = await parse(request, ReplyResolveIn)
    return json_response(await inbox.resolve(runtime(request), api_key(request), reply_id, body))


@routes.post("/v1/cases/{case_ref}/replies")
@requires("ops")
async def post_case_reply(request: web.Request) -> web.Response:
    case_ref = case_ref_of(request)
    body = await parse(request, ReplyRecordIn)
    out = await recorded.record(runtime(request), api_key(request), case_ref, body)
    return json_response(out, status=201)
