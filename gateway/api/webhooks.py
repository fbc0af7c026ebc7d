"""Outbound webhooks: register, list and delete them; read and redeliver their deliveries."""

from __future__ import annotations

import re

from aiohttp import web

from gateway.api.base import api_key, json_response, parse, requires, runtime
from gateway.errors import ValidationFailed
from gateway.schemas.webhooks import WebhookIn
from gateway.services import webhooks as webhook_service

routes = web.RouteTableDef()

WEBHOOK_ID = r"^wh_[0-9a-f]{24}$"  # gateway.store.webhooks.create
MAX_ID = 2**31 - 1  # webhook_deliveries.id is a 32-bit integer


def _webhook_id(request: web.Request) -> str:
    value = request.match_info["webhook_id"]
    if not re.match(WEBHOOK_ID, value):
        raise ValidationFailed(
            "webhook_id: wh_ and 24 hexadecimal digits",
            details=[{"field": "webhook_id", "problem": "invalid", "type": "pattern"}],
        )
    return value


def _int(request: web.Request, name: str, default: str, low: int, high: int) -> int:
    raw = request.match_info.get(name) or request.query.get(name, default)
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} is an integer") from None
    if not low <= value <= high:
        raise ValidationFailed(f"{name}: between {low} and {high}")
    return value


@routes.post("/v1/webhooks")
@requires("cases:write")
async def post_webhook(request: web.Request) -> web.Response:
    body = await parse(request, WebhookIn)
    created = await webhook_service.create(runtime(request), api_key(request), body)
    return json_response(created, status=201)


@routes.get("/v1/webhooks")
@requires("cases:read")
async def get_webhooks(request: web.Request) -> web.Response:
    return json_response(await webhook_service.list_(runtime(request), api_key(request)))


@routes.delete("/v1/webhooks/{webhook_id}")
@requires("cases:write")
async def delete_webhook(request: web.Request) -> web.Response:
    webhook_id = _webhook_id(request)
    return json_response(
        await webhook_service.delete(runtime(request), api_key(request), webhook_id)
    )


@routes.get("/v1/webhooks/{webhook_id}/deliveries")
@requires("cases:read")
async def get_deliveries(request: web.Request) -> web.Response:
    webhook_id = _webhook_id(request)
    after = _int(request, "after", "0", 0, MAX_ID)
    limit = _int(request, "limit", "100", 1, 1000)
    page = await webhook_service.deliveries(
        runtime(request), api_key(request), webhook_id, after=after, limit=limit
    )
    return json_response(page)


@routes.post("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
@requires("cases:write")
async def post_redeliver(request: web.Request) -> web.Response:
    webhook_id = _webhook_id(request)
    delivery_id = _int(request, "delivery_id", "0", 1, MAX_ID)
    out = await webhook_service.redeliver(
        runtime(request), api_key(request), webhook_id, delivery_id
    )
    return json_response(out, status=202)
