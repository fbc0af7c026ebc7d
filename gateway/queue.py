"""Enqueueing dispatch work: job payloads are message ids only, in chunks, one pipeline per call."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable

import structlog
from redis import Redis
from rq import Queue

from gateway.redis_keys import Keys

log = structlog.get_logger()

DISPATCH_JOB = "gateway.jobs.dispatch"
JOB_TIMEOUT_S = 600
# A job's result is the message states in the database; RQ need not keep one.
RESULT_TTL_S = 0
FAILURE_TTL_S = 7 * 24 * 3600


def chunks(ids: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def enqueue_ids(redis: Redis, keys: Keys, items: Iterable[tuple[str, str]], chunk: int) -> int:
    """Enqueue (message id, channel) pairs as dispatch jobs of at most `chunk` ids; return jobs made."""
    by_queue: dict[str, list[str]] = defaultdict(list)
    for message_id, channel in items:
        by_queue[keys.queue_for(channel)].append(message_id)
    made = 0
    with redis.pipeline() as pipe:
        for name, ids in by_queue.items():
            queue = Queue(name, connection=redis)
            size = min(chunk, 10) if name == keys.letters_queue else chunk
            jobs = [
                Queue.prepare_data(
                    DISPATCH_JOB,
                    args=(part,),
                    timeout=JOB_TIMEOUT_S,
                    result_ttl=RESULT_TTL_S,
                    failure_ttl=FAILURE_TTL_S,
                )
                for part in chunks(ids, size)
            ]
            queue.enqueue_many(jobs, pipeline=pipe)
            made += len(jobs)
        pipe.execute()
    return made


async def enqueue_committed(
    redis: Redis, keys: Keys, items: list[tuple[str, str]], chunk: int
) -> None:
    """Enqueue messages whose rows are already committed. If Redis is down nothing is lost: the
    scheduler's pump re-enqueues them from the database once their `enqueued_at` is stale."""
    try:
        await asyncio.to_thread(enqueue_ids, redis, keys, items, chunk)
    except Exception as exc:  # noqa: BLE001 — any Redis failure; the database has the work
        log.warning("enqueue_failed", error=type(exc).__name__, messages=len(items))
