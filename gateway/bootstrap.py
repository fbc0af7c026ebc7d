"""The composition root: builds a process's long-lived resources once, for production and tests.

A `Runtime` (gateway.runtime) holds the settings, the database engine, the Redis clients, the
providers and the clock. The API app, the worker and the scheduler each open one at start and close
it at exit. This module is the one place that wires services into providers (the delivery sink).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

import redis
import redis.asyncio as aredis
import structlog

from gateway import providers as provider_registry
from gateway import replies
from gateway.ratelimit import RateLimiter, parse_rate_limits
from gateway.redis_keys import Keys
from gateway.runtime import Runtime, utcnow
from gateway.services.sink import DatabaseSink
from gateway.settings import Settings
from gateway.store.engine import create_engine
from gateway.store.templates import pack_purposes
from scheduler import us_states, windows
from scheduler.cadence import load_cadences
from scheduler.caps import lookback
from scheduler.policy_config import cap_policy
from scheduler.presets import load_presets

__all__ = ["Runtime", "open_runtime", "utcnow", "warm_up_replies"]

log = structlog.get_logger()


async def open_runtime(
    settings: Settings, *, with_providers: bool = False, clock: Callable[[], datetime] | None = None
) -> Runtime:
    """Open the resources of one process. Providers are built (and started) only where they send."""
    runtime = Runtime(
        settings=settings,
        engine=create_engine(settings, keyed=with_providers),
        redis=redis.Redis.from_url(settings.redis_url),
        aredis=aredis.Redis.from_url(settings.redis_url),
        keys=Keys(settings.queue_prefix),
        clock=clock or utcnow,
    )
    runtime.limiter = RateLimiter(
        runtime.aredis,
        runtime.keys,
        parse_rate_limits(settings.rate_limits, "RATE_LIMITS"),
        parse_rate_limits(settings.sender_rate_limits, "SENDER_RATE_LIMITS"),
        metrics=runtime.metrics,
    )
    runtime.presets = load_presets(settings.presets_dir)
    runtime.cadences = load_cadences(settings.cadences_dir, templates=pack_purposes())
    runtime.cap_policies = {name: cap_policy(p) for name, p in runtime.presets.items()}
    runtime.cap_lookback = lookback(runtime.cap_policies.values())
    built = provider_registry.build_all(settings, runtime.aredis)
    if with_providers:
        windows.warm(runtime.presets.values(), runtime.clock().year)
        us_states.warm()
        sink = DatabaseSink(runtime)
        for provider in built.values():
            if hasattr(provider, "bind_sink"):
                provider.bind_sink(sink)
            await provider.start()
    # Callback-only use (the API verifies and parses receipts) needs no started provider.
    runtime.providers = built
    return runtime


def warm_up_replies(settings: Settings) -> asyncio.Task[None]:
    """Start loading (or training) the reply classifier's model in a thread (`replies.warm_up`):
    a process that reads replies (the API app, the SMTP receiver) starts it at start-up, so its
    first reply does not wait, while the loop goes on serving (/healthz answers). Trained models
    are kept in `settings.cache_dir`. The caller keeps the task and awaits it at
    shutdown."""

    async def warm() -> None:
        started = time.monotonic()
        try:
            await asyncio.to_thread(replies.warm_up, settings.cache_dir)
        except Exception:  # the first reply trains it instead
            log.exception("reply_classifier_warm_up_failed")
            return
        log.info("reply_classifier_ready", seconds=round(time.monotonic() - started, 2))

    return asyncio.create_task(warm(), name="reply-classifier-warm-up")
