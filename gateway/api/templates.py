"""Templates: lint a draft against a preset's content rules before it is published."""

from __future__ import annotations

from aiohttp import web

from gateway.api.base import json_response, parse, requires, runtime
from gateway.schemas import TemplateLintIn
from gateway.services import lint

routes = web.RouteTableDef()


@routes.post("/v1/templates/lint")
@requires("templates:write")
async def lint_template(request: web.Request) -> web.Response:
    body = await parse(request, TemplateLintIn)
    rt = runtime(request)
    return json_response(lint.lint_request(rt, body, rt.clock()))
