"""The evidence export of a case, streamed as JSON Lines (`gateway.services.evidence`)."""

from __future__ import annotations

from aiohttp import web

from gateway.api.base import api_key, requires, runtime
from gateway.api.cases import case_ref_of
from gateway.errors import NotFound
from gateway.services import evidence
from gateway.store.evidence import Scope

routes = web.RouteTableDef()

NDJSON = "application/x-ndjson"


@routes.get("/v1/cases/{case_ref}/export")
@requires("cases:read")
async def export_case(request: web.Request) -> web.StreamResponse:
    case_ref = case_ref_of(request)
    rt = runtime(request)
    tenant = api_key(request).tenant
    case_id = await evidence.find_case(rt.engine, tenant, case_ref)
    if case_id is None:
        raise NotFound(f"no case {case_ref!r}", code="unknown_case")
    response = web.StreamResponse(headers={"Content-Type": NDJSON})
    await response.prepare(request)
    async for line in evidence.export(rt.engine, Scope(tenant, case_id=case_id), rt.clock):
        await response.write(line)
    await response.write_eof()
    return response
