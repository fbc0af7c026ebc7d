"""The worker process: an RQ `SimpleWorker` with one long-lived event loop and providers built once.

RQ's default worker forks a child per job, which would throw away every SMTP and HTTP connection
after each job. `GatewayWorker` runs jobs in-process; an asyncio loop lives for the whole process
in a background thread, the runtime (engine, Redis, providers and their connection pools) is
opened on it once, and each job submits its coroutine to that loop. Because the loop keeps running
between jobs, provider background work (keep-alives, sandbox receipts) never stalls. The
process's Prometheus endpoint (METRICS_PORT) is served on that loop too.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import structlog
from rq import Queue, SimpleWorker
from rq.job import Job

from gateway import gc_tuning
from gateway.bootstrap import Runtime, open_runtime
from gateway.exporter.server import Endpoint, MetricsUnavailable, start_endpoint
from gateway.settings import Settings

T = TypeVar("T")
log = structlog.get_logger()

_CURRENT: AsyncLoop | None = None


class AsyncLoop:
    """An event loop running forever in a daemon thread, with the process's runtime on it."""

    def __init__(self, settings: Settings):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="gateway-loop", daemon=True
        )
        self.thread.start()
        self.runtime: Runtime = self.run(open_runtime(settings, with_providers=True))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        context = structlog.contextvars.get_contextvars()

        async def with_context() -> T:
            structlog.contextvars.bind_contextvars(**context)
            return await coro

        future: Future[T] = asyncio.run_coroutine_threadsafe(with_context(), self.loop)
        return future.result()

    def close(self) -> None:
        try:
            self.run(self.runtime.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)


def current() -> AsyncLoop:
    if _CURRENT is None:
        raise RuntimeError("gateway jobs run inside `reminder-gateway worker`")
    return _CURRENT


def install(loop: AsyncLoop | None) -> None:
    global _CURRENT
    _CURRENT = loop


class GatewayWorker(SimpleWorker):
    """Runs jobs in this process; binds the job id for every log line of the job."""

    def unsubscribe(self) -> None:
        """Leave the command channel without waiting on its listener thread for long.

        RQ calls the listener's `stop()` expecting it to return at once; redis-py 8 waits there,
        unbounded, for the thread to end, and a thread that has already read the unsubscribe's
        confirmation sleeps up to a minute waiting for a subscription: SIGTERM then took that
        minute. The thread is a daemon and ends by itself once it wakes."""
        thread = self.pubsub_thread
        if thread is None:
            return
        self.pubsub.unsubscribe()
        try:
            thread.stop(timeout=1.0)
        except TypeError:  # redis-py before 8: stop() only asks, it does not wait
            thread.stop()
            thread.join(timeout=1.0)
        if not thread.is_alive():
            self.pubsub.close()  # else the thread closes it when it wakes, off its socket

    def execute_job(self, job: Job, queue: Queue) -> Any:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(job_id=job.id, queue=queue.name)
        try:
            return super().execute_job(job, queue)
        finally:
            structlog.contextvars.clear_contextvars()


def run_worker(settings: Settings, *, burst: bool = False, queues: list[str] | None = None) -> None:
    """Serve dispatch jobs until stopped (or, with `burst`, until the queues are empty)."""
    import redis

    from gateway.redis_keys import Keys

    keys = Keys(settings.queue_prefix)
    names = queues or [keys.dispatch_queue, keys.letters_queue]
    connection = redis.Redis.from_url(settings.redis_url)
    loop = AsyncLoop(settings)
    install(loop)
    endpoint: Endpoint | None = None
    try:
        try:
            endpoint = loop.run(start_endpoint(loop.runtime, "worker"))
        except MetricsUnavailable as exc:
            print(f"configuration error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        worker = GatewayWorker(
            [Queue(n, connection=connection) for n in names], connection=connection
        )
        gc_tuning.settle()
        log.info("worker_started", queues=names, name=worker.name)
        worker.work(burst=burst, logging_level="WARNING")
    finally:
        if endpoint is not None:
            loop.run(endpoint.stop())
        install(None)
        loop.close()
        connection.close()
