"""Liveness/readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from gateway.api.base import json_response, runtime
from gateway.api.openapi import spec
from gateway.store.tables import messages as M

routes = web.RouteTableDef()

REGISTRY: web.AppKey[CollectorRegistry] = web.AppKey("metrics", CollectorRegistry)


class Metrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.requests = Counter(
            "gateway_http_requests", "HTTP requests", ["route", "status"], registry=registry
        )
        self.messages = Gauge(
            "gateway_messages", "Messages by state", ["state", "channel"], registry=registry
        )


METRICS: web.AppKey[Metrics] = web.AppKey("metrics_obj", Metrics)


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    rt = runtime(request)
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2):
            async with rt.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 — reported, not raised
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        async with asyncio.timeout(2):
            await rt.aredis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"down: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return json_response(
        {"status": "ok" if ok else "degraded", "checks": checks}, status=200 if ok else 503
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    rt = runtime(request)
    async with rt.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(M.c.state, M.c.channel, sa.func.count()).group_by(M.c.state, M.c.channel)
        )
        m.messages.clear()
        for state, channel, n in rows:
            m.messages.labels(state=state, channel=channel).set(n)
    response = web.Response(body=generate_latest(m.registry))
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(spec())
