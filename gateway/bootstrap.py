"""The composition root: builds a process's long-lived resources once, for production and tests.

A `Runtime` holds the settings, the database engine, the Redis clients, the providers and the
clock. The API app, the worker and the scheduler each open one at start and close it at exit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
import redis.asyncio as aredis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import providers as provider_registry
from gateway.metrics.recorder import Metrics
from gateway.redis_keys import Keys
from gateway.settings import Settings
from gateway.store import templates as template_store
from gateway.store.engine import create_engine
from gateway.store.templates import TemplateVersion
from scheduler.caps import CapPolicy, lookback
from scheduler.policy_config import cap_policy
from scheduler.presets import Preset, load_presets

NO_CAPS = CapPolicy()


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    redis: redis.Redis
    aredis: aredis.Redis
    keys: Keys
    providers: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow
    breakers: dict[str, Any] = field(default_factory=dict)
    presets: dict[str, Preset] = field(default_factory=dict)
    limiter: Any = None
    cap_policies: dict[str, CapPolicy] = field(default_factory=dict)
    # The longest window any preset's caps count over: how much history a decision reads.
    cap_lookback: timedelta = timedelta(0)
    # What this process counts; a worker or scheduler serves it on METRICS_PORT.
    metrics: Metrics = field(default_factory=Metrics)
    _templates: dict[int, TemplateVersion] = field(default_factory=dict)

    async def templates(self, ids: set[int]) -> dict[int, TemplateVersion]:
        """Template versions by id. Versions never change once written, so they are cached."""
        missing = ids - self._templates.keys()
        if missing:
            async with self.engine.connect() as conn:
                self._templates.update(await template_store.by_ids(conn, missing))
        return {i: self._templates[i] for i in ids if i in self._templates}

    def cap_policy(self, preset: str) -> CapPolicy:
        """The frequency caps of a preset (empty when the preset sets none)."""
        return self.cap_policies.get(preset, NO_CAPS)

    def providers_for(self, channel: str) -> list[Any]:
        names = provider_registry.configured(self.settings)[channel]
        return [self.providers[n] for n in names if n in self.providers]

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.close()
        await self.aredis.aclose()
        self.redis.close()
        await self.engine.dispose()


async def open_runtime(
    settings: Settings, *, with_providers: bool = False, clock: Callable[[], datetime] | None = None
) -> Runtime:
    """Open the resources of one process. Providers are built (and started) only where they send."""
    runtime = Runtime(
        settings=settings,
        engine=create_engine(settings),
        redis=redis.Redis.from_url(settings.redis_url),
        aredis=aredis.Redis.from_url(settings.redis_url),
        keys=Keys(settings.queue_prefix),
        clock=clock or utcnow,
    )
    from gateway.ratelimit import RateLimiter

    runtime.limiter = RateLimiter.from_settings(
        settings, runtime.aredis, runtime.keys, metrics=runtime.metrics
    )
    runtime.presets = load_presets(settings.presets_dir)
    runtime.cap_policies = {name: cap_policy(p) for name, p in runtime.presets.items()}
    runtime.cap_lookback = lookback(runtime.cap_policies.values())
    built = provider_registry.build_all(settings, runtime.aredis)
    if with_providers:
        from gateway.services.sink import DatabaseSink

        sink = DatabaseSink(runtime)
        for provider in built.values():
            if hasattr(provider, "bind_sink"):
                provider.bind_sink(sink)
            await provider.start()
    # Callback-only use (the API verifies and parses receipts) needs no started provider.
    runtime.providers = built
    return runtime
