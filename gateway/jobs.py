"""RQ job functions. Each runs a coroutine on the worker's long-lived event loop."""

from __future__ import annotations

import time

import structlog
from rq import get_current_job

from gateway.runtime import Runtime
from gateway.services import dispatch as dispatch_service
from gateway.worker import current


def dispatch(message_ids: list[str]) -> dict[str, int]:
    """Dispatch a chunk of messages (the payload is ids only)."""
    worker = current()
    structlog.contextvars.bind_contextvars(messages=len(message_ids))
    job = get_current_job()
    queue = job.origin if job is not None else ""
    return worker.run(_counted(worker.runtime, queue, list(message_ids)))


async def _counted(rt: Runtime, queue: str, ids: list[str]) -> dict[str, int]:
    # Counted on the loop, like every other series of the process (see gateway.metrics.series).
    started = time.perf_counter()
    try:
        counts = await dispatch_service.dispatch(rt, ids)
    except Exception:
        rt.metrics.job_finished(queue, "failed", time.perf_counter() - started)
        raise
    rt.metrics.dispatched(queue, len(ids), counts, time.perf_counter() - started)
    return counts
