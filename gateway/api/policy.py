"""Policy explanations: what the gateway would decide for a debtor, without sending anything."""

from __future__ import annotations

from aiohttp import web

from gateway.api.base import api_key, json_response, parse, requires, runtime
from gateway.schemas import PolicyEvaluateIn
from gateway.services import policy_eval

routes = web.RouteTableDef()


@routes.post("/v1/policy/evaluate")
@requires("cases:read")
async def evaluate(request: web.Request) -> web.Response:
    body = await parse(request, PolicyEvaluateIn)
    return json_response(await policy_eval.evaluate(runtime(request), api_key(request), body))
