"""The scheduler's loop: one active scheduler at a time, each tick sweeping and pumping due work.

A Redis lock with a TTL elects the leader; a second scheduler stands by and takes over within the
TTL when the first one dies. What a tick does — end expired claims, enqueue due messages, seal
the case timelines' hash chains (one sealer at a time: the leader) — is the `Work` the caller
hands in (`gateway.services.due_work`): this loop knows nothing of the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Mapping
from typing import Any, Protocol

import structlog

log = structlog.get_logger()

LOCK_TTL_MS = 10_000


class Work(Protocol):
    async def sweep(self) -> dict[str, int]: ...

    async def pump(self) -> int: ...

    async def seal(self) -> int: ...


class TickMetrics(Protocol):
    def ticked(
        self, seconds: float, *, leader: bool, pumped: int, swept: Mapping[str, int]
    ) -> None: ...

    def tick_failed(self) -> None: ...


class Scheduler:
    def __init__(
        self,
        work: Work,
        redis: Any,
        lock_key: str,
        *,
        interval_s: float,
        metrics: TickMetrics,
    ):
        self.work = work
        self.metrics = metrics
        self.redis = redis
        self.lock_key = lock_key
        self.interval_s = interval_s
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self.leader = False

    async def _elect(self) -> bool:
        if await self.redis.set(self.lock_key, self.identity, nx=True, px=LOCK_TTL_MS):
            return True
        holder = await self.redis.get(self.lock_key)
        if holder is not None and holder.decode() == self.identity:
            await self.redis.pexpire(self.lock_key, LOCK_TTL_MS)
            return True
        return False

    async def tick(self) -> None:
        started = time.perf_counter()
        try:
            leader = await self._elect()
        except Exception as exc:  # noqa: BLE001 — Redis down: nothing to pump into, try again later
            log.warning("scheduler_redis_unavailable", error=type(exc).__name__)
            self.metrics.tick_failed()
            return
        if leader != self.leader:
            log.info("scheduler_role", leader=leader)
            self.leader = leader
        swept: dict[str, int] = {}
        enqueued = 0
        if leader:
            swept = await self.work.sweep()
            enqueued = await self.work.pump()
            if enqueued:
                log.info("pumped", messages=enqueued)
            # After the pump: sealing never delays due work.
            await self.work.seal()
        self.metrics.ticked(
            time.perf_counter() - started, leader=leader, pumped=enqueued, swept=swept
        )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 — a bad tick (e.g. database restart) must not end the loop
                log.exception("scheduler_tick_failed")
                self.metrics.tick_failed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
