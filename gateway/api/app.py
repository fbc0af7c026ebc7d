"""The aiohttp application factory. Production (`reminder-gateway api`) and tests both use it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry

from gateway.api import (
    cadences,
    cases,
    evidence,
    ops,
    policy,
    providers,
    reminders,
    replies,
    templates,
    webhooks,
)
from gateway.api.base import KEY_CACHE, RUNTIME
from gateway.api.middleware import errors, request_context
from gateway.bootstrap import Runtime, open_runtime, warm_up_replies
from gateway.settings import Settings

MAX_BODY = 4 * 1024 * 1024
# The reply classifier's warm-up, started with the app (`bootstrap.warm_up_replies`).
WARM_UP = web.AppKey("reply_classifier_warm_up", asyncio.Task)


def create_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    """Build the API app. Without `runtime`, one is opened at start-up and closed at clean-up."""
    app = web.Application(middlewares=[request_context, errors], client_max_size=MAX_BODY)
    app[KEY_CACHE] = {}
    registry = CollectorRegistry()
    app[ops.METRICS] = ops.Metrics(registry)
    app[templates.RENDER_POOL] = templates.render_pool(settings)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        rt = runtime or await open_runtime(settings, clock=clock)
        app[RUNTIME] = rt
        # Replies arrive by the provider callbacks: the model is loaded off the loop meanwhile.
        app[WARM_UP] = warm_up_replies(rt.settings)
        yield
        await app[WARM_UP]
        app[templates.RENDER_POOL].close()
        if runtime is None:
            await rt.close()

    app.cleanup_ctx.append(resources)
    for module in (
        cases,
        cadences,
        evidence,
        reminders,
        policy,
        templates,
        providers,
        ops,
        webhooks,
        replies,
    ):
        app.router.add_routes(module.routes)
    return app
