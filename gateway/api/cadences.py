"""Cadences: the follow-up plans the gateway knows, and the one running on a case."""

from __future__ import annotations

from aiohttp import web

from gateway.api.base import api_key, json_response, parse, requires, runtime
from gateway.api.cases import case_ref_of
from gateway.schemas import CadenceRunIn
from gateway.services import cadence_runs
from gateway.services import cadences as cadence_service

routes = web.RouteTableDef()


@routes.get("/v1/cadences")
@requires("cases:read")
async def list_cadences(request: web.Request) -> web.Response:
    return json_response(cadence_service.listing(runtime(request)))


@routes.get("/v1/cadences/{cadence}")
@requires("cases:read")
async def get_cadence(request: web.Request) -> web.Response:
    rt = runtime(request)
    return json_response(
        cadence_service.describe(cadence_service.get(rt, request.match_info["cadence"]))
    )


@routes.put("/v1/cases/{case_ref}/cadence")
@requires("cases:write")
async def put_cadence(request: web.Request) -> web.Response:
    case_ref = case_ref_of(request)
    body = await parse(request, CadenceRunIn)
    return json_response(
        await cadence_runs.start(runtime(request), api_key(request), case_ref, body)
    )


@routes.get("/v1/cases/{case_ref}/cadence")
@requires("cases:read")
async def get_case_cadence(request: web.Request) -> web.Response:
    case_ref = case_ref_of(request)
    return json_response(
        await cadence_runs.read(runtime(request), api_key(request).tenant, case_ref)
    )


@routes.delete("/v1/cases/{case_ref}/cadence")
@requires("cases:write")
async def delete_cadence(request: web.Request) -> web.Response:
    case_ref = case_ref_of(request)
    return json_response(await cadence_runs.stop(runtime(request), api_key(request), case_ref))
