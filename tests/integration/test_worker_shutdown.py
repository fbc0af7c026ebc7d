"""A worker asked to stop stops at once, whatever its pub/sub listener is doing.

RQ listens for commands (shutdown, stop a job) on a pub/sub channel in a thread that sleeps up to
a minute at a time. On shutdown RQ unsubscribes, then calls the thread's `stop()` expecting it to
return at once; redis-py 8 waits there, without a limit, for the thread to end. When the thread
has already read the unsubscribe's confirmation it is asleep waiting for a subscription that
will not come, and the worker hung for that minute after SIGTERM (seen once in a full run of
the suite, on a loaded machine)."""

from __future__ import annotations

import asyncio
import time

import redis as redis_lib
from rq import Queue

from gateway.worker import GatewayWorker
from tests.support import wait_for


async def test_a_worker_whose_listener_sleeps_unsubscribed_stops_in_seconds_not_a_minute(
    redis_client: redis_lib.Redis,
) -> None:
    worker = GatewayWorker(
        [Queue("shutdown-test", connection=redis_client)], connection=redis_client
    )
    worker.subscribe()
    # The state a shutdown races into: the listener has read the unsubscribe's confirmation
    # and waits (up to its minute) for a subscription.
    worker.pubsub.unsubscribe()

    async def unsubscribed() -> bool:
        return not worker.pubsub.subscribed

    await wait_for(unsubscribed, timeout=10)
    await asyncio.sleep(0.2)  # back in its wait

    started = time.monotonic()
    await asyncio.wait_for(asyncio.to_thread(worker.unsubscribe), timeout=10)
    assert time.monotonic() - started < 5.0  # a minute before
