"""Cases: create or update, read, and read the timeline."""

from __future__ import annotations

from aiohttp import web

from gateway.api.base import api_key, json_response, parse, requires, runtime
from gateway.errors import NotFound, ValidationFailed
from gateway.schemas import CaseEventIn, CaseIn, Ref, TimelineEntryOut, TimelineOut
from gateway.services import case_events
from gateway.services import cases as case_service
from gateway.store import cases as case_store
from gateway.store import timeline

routes = web.RouteTableDef()


def case_ref_of(request: web.Request) -> str:
    from pydantic import TypeAdapter, ValidationError

    value = request.match_info["case_ref"]
    try:
        return TypeAdapter(Ref).validate_python(value)
    except ValidationError:
        raise ValidationFailed(
            "case_ref: 1-128 characters of letters, digits and . _ : -",
            details=[{"field": "case_ref", "problem": "invalid", "type": "pattern"}],
        ) from None


@routes.put("/v1/cases/{case_ref}")
@requires("cases:write")
async def put_case(request: web.Request) -> web.Response:
    case_ref = case_ref_of(request)
    body = await parse(request, CaseIn)
    created, out = await case_service.upsert(runtime(request), api_key(request), case_ref, body)
    return json_response(out, status=201 if created else 200)


@routes.get("/v1/cases/{case_ref}")
@requires("cases:read")
async def get_case(request: web.Request) -> web.Response:
    case_ref = case_ref_of(request)
    return json_response(
        await case_service.read(runtime(request), api_key(request).tenant, case_ref)
    )


@routes.post("/v1/cases/{case_ref}/events")
@requires("cases:write")
async def post_event(request: web.Request) -> web.Response:
    case_ref = case_ref_of(request)
    event = await parse(request, CaseEventIn)
    return json_response(
        await case_events.apply(runtime(request), api_key(request), case_ref, event)
    )


@routes.get("/v1/cases/{case_ref}/timeline")
@requires("cases:read")
async def get_timeline(request: web.Request) -> web.Response:
    case_ref = case_ref_of(request)
    try:
        after = int(request.query.get("after", "0"))
        limit = int(request.query.get("limit", "500"))
    except ValueError:
        raise ValidationFailed("after and limit are integers") from None
    if not (after >= 0 and 1 <= limit <= 1000):
        raise ValidationFailed("after ≥ 0 and 1 ≤ limit ≤ 1000")
    rt = runtime(request)
    async with rt.engine.connect() as conn:
        case = await case_store.get(conn, api_key(request).tenant, case_ref)
        if case is None:
            raise NotFound(f"no case {case_ref!r}", code="unknown_case")
        entries = await timeline.for_case(conn, case.id, after=after, limit=limit)
    next_after = entries[-1]["id"] if len(entries) == limit else None
    return json_response(
        TimelineOut(
            case_ref=case_ref,
            entries=[TimelineEntryOut.model_validate(e) for e in entries],
            next_after=next_after,
        )
    )
