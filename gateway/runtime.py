"""A process's long-lived resources: the settings, the database engine, the Redis clients, the
providers, the presets, the cadences and the clock. `gateway.bootstrap.open_runtime` builds one; services,
entry points and the scheduler's pump receive it.
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
from gateway.store.templates import TemplateVersion
from scheduler.cadence import Cadence
from scheduler.caps import CapPolicy
from scheduler.presets import Preset

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
    # The follow-up cadences by name: the built-ins and CADENCES_DIR's (`scheduler.cadence`).
    cadences: dict[str, Cadence] = field(default_factory=dict)
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
