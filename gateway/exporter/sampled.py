"""Levels read when Prometheus scrapes, not kept up to date on the hot path.

Queue depth is Redis's business: counting it per message would cost a round trip per job, while
one pipeline per scrape (an LLEN and two ZCARDs per queue) costs one round trip every scrape
interval, whatever the throughput. Circuit states are read from the process's breakers.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog
from rq import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry

if TYPE_CHECKING:
    from gateway.metrics.series import Labels
    from gateway.runtime import Runtime

log = structlog.get_logger()

SAMPLE_TIMEOUT_S = 1.0


def queue_keys(rt: Runtime) -> list[tuple[str, str, str]]:
    """(queue, state, Redis key) of every gateway queue: jobs queued, started and failed.

    The key names are RQ's; building the objects that know them does no I/O."""
    out = []
    for name in (rt.keys.dispatch_queue, rt.keys.letters_queue):
        queue = Queue(name, connection=rt.redis)
        out.append((name, "queued", queue.key))
        out.append((name, "started", StartedJobRegistry(queue=queue).key))
        out.append((name, "failed", FailedJobRegistry(queue=queue).key))
    return out


async def sample_queues(rt: Runtime, keys: list[tuple[str, str, str]]) -> dict[Labels, float]:
    """Jobs per (queue, state), in one pipeline. Redis unreachable: nothing (the series go stale
    and `absent()` alerts on them) rather than a failed scrape of everything else."""
    try:
        async with asyncio.timeout(SAMPLE_TIMEOUT_S):
            async with rt.aredis.pipeline(transaction=False) as pipe:
                for _, state, key in keys:
                    if state == "queued":
                        pipe.llen(key)
                    else:
                        pipe.zcard(key)
                counts = await pipe.execute()
    except Exception as exc:  # noqa: BLE001 — any Redis failure; the scrape still answers
        log.warning("queue_sample_failed", error=type(exc).__name__)
        return {}
    return {(queue, state): float(n) for (queue, state, _), n in zip(keys, counts, strict=True)}


def circuit_levels(rt: Runtime) -> dict[Labels, float]:
    """1 for every provider whose breaker is open (or half-open, probing), else 0."""
    return {
        (name,): 0.0 if breaker.state == "closed" else 1.0
        for name, breaker in list(rt.breakers.items())
    }
