"""Templates: lint a draft against a preset's content rules before it is published.

A draft is anyone's input, so it renders in a child process (`gateway.render_pool`) with a hard
deadline: a template that would run away costs that child, never this event loop.
"""

from __future__ import annotations

from functools import partial

from aiohttp import web

from gateway.api.base import json_response, parse, requires, runtime
from gateway.render_pool import RenderPool
from gateway.schemas import TemplateLintIn
from gateway.services import lint
from gateway.settings import Settings

routes = web.RouteTableDef()

RENDER_POOL: web.AppKey[RenderPool] = web.AppKey("render_pool", RenderPool)


def render_pool(settings: Settings) -> RenderPool:
    """The pool lint requests render in; its children start on first use."""
    return RenderPool(partial(lint.child_state, settings))


@routes.post("/v1/templates/lint")
@requires("templates:write")
async def lint_template(request: web.Request) -> web.Response:
    body = await parse(request, TemplateLintIn)
    rt = runtime(request)
    found = await request.app[RENDER_POOL].run(lint.lint_request, body, rt.clock())
    return json_response(found)
