"""The due work of the scheduler: the pump and the sweeper. The database is the source of truth
for time.

Every waiting message (accepted, deferred, retrying, or accepted for later with `not_before`) has
a `next_attempt_at`. Each tick the pump enqueues, in chunks, the due ones not yet enqueued, and
those enqueued more than `requeue_after_s` seconds ago on a channel whose queue is empty: a job
lost with Redis (flushed, restarted, failed over) is re-derived from the database within that
time, while a long backlog still draining is not enqueued twice. The sweeper ends expired claims: a claim still
`dispatching` was never handed to a provider and goes back to waiting; one in `sending` may or may
not have reached the provider and becomes `unknown` — never sent again blindly.

Each tick also ends the pauses that are over (`gateway.services.pause_ends`: a promise to pay
that passed is broken, and the case's cadence resumes), then releases the cadence steps that are
due (`gateway.services.cadence_release`).

`scheduler.pump.Scheduler` runs them each tick while it holds the leader lock, and then the
timeline sealer (`gateway.services.chain`): the leader is the one sealer the chains need.
"""

from __future__ import annotations

import asyncio

import structlog
from rq import Queue

from gateway.queue import enqueue_ids
from gateway.runtime import Runtime
from gateway.services import pause_ends, webhook_events
from gateway.services.cadence_release import release_due
from gateway.services.chain import seal_pending
from gateway.states import State
from gateway.store import messages as message_store
from gateway.store import timeline
from scheduler.pump import Scheduler

log = structlog.get_logger()

PUMP_BATCH = 5000
CHANNELS = ("sms", "email", "letter")


def idle_channels(rt: Runtime) -> set[str]:
    """Channels whose queue holds no job. Only there can a message enqueued long ago mean a job
    lost with Redis; where jobs are still queued, a backlog is draining at the provider's rate,
    and enqueueing it again would only pile duplicates into Redis."""
    return {
        channel
        for channel in CHANNELS
        if Queue(rt.keys.queue_for(channel), connection=rt.redis).count == 0
    }


async def pump_once(rt: Runtime) -> int:
    """Enqueue every due message not recently enqueued; return how many."""
    total = 0
    requeue = await asyncio.to_thread(idle_channels, rt)
    while True:
        now = rt.clock()
        async with rt.engine.begin() as conn:
            due = await message_store.due_for_enqueue(
                conn,
                now=now,
                requeue_after_s=rt.settings.requeue_after_s,
                limit=PUMP_BATCH,
                requeue_channels=requeue,
            )
            await message_store.mark_enqueued(conn, [i for i, _ in due], now)
        if not due:
            return total
        await asyncio.to_thread(enqueue_ids, rt.redis, rt.keys, due, rt.settings.dispatch_chunk)
        total += len(due)
        if len(due) < PUMP_BATCH:
            return total


async def sweep_once(rt: Runtime) -> dict[str, int]:
    """End claims whose lease expired (their worker died or hung)."""
    now = rt.clock()
    async with rt.engine.begin() as conn:
        stale = await message_store.expired_claims(conn, now)
        dispatching = [r for r in stale if r.state == State.DISPATCHING.value]
        sending = [r for r in stale if r.state == State.SENDING.value]
        back = await message_store.transition(
            conn,
            [r.id for r in dispatching],
            State.RETRY_WAIT,
            now=now,
            from_=[State.DISPATCHING],
            where=[message_store.M.c.lease_until < now],
            next_attempt_at=now,
            enqueued_at=None,
            lease_until=None,
            state_reason="claim expired before sending",
        )
        unknown = await message_store.transition(
            conn,
            [r.id for r in sending],
            State.UNKNOWN,
            now=now,
            from_=[State.SENDING],
            where=[message_store.M.c.lease_until < now],
            lease_until=None,
            state_reason="worker lost while sending; reconcile from receipts",
        )
        moved = set(back) | set(unknown)
        await webhook_events.emit(
            conn,
            [
                webhook_events.message_event(
                    r, State.RETRY_WAIT if r.id in back else State.UNKNOWN, None
                )
                for r in stale
                if r.id in moved
            ],
            now,
        )
        await timeline.append(
            conn,
            [
                timeline.entry(
                    r.case_id,
                    "claim_expired",
                    now,
                    message_id=r.id,
                    was=r.state,
                    now_state="retry_wait" if r.state == State.DISPATCHING.value else "unknown",
                )
                for r in stale
                if r.id in moved
            ],
        )
    if moved:
        log.warning("claims_swept", requeued=len(back), unknown=len(unknown))
    return {"requeued": len(back), "unknown": len(unknown)}


class DueWork:
    """What the scheduler's loop does each tick as the elected leader (see `scheduler.pump`)."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    async def sweep(self) -> dict[str, int]:
        return await sweep_once(self.rt)

    async def pump(self) -> int:
        # Pauses that are over first: a cadence they held resumes in the same tick. Then cadence
        # steps: a step released now is enqueued by intake in the same tick.
        await pause_ends.end_due(self.rt)
        released = await release_due(self.rt)
        return released + await pump_once(self.rt)

    async def seal(self) -> int:
        # One batch a tick (`chain.SEAL_BATCH` entries a second at the default interval on
        # PostgreSQL): a bounded share of the database, whatever the load.
        return await seal_pending(self.rt.engine, batches=1)


def scheduler(rt: Runtime) -> Scheduler:
    """The scheduler process's loop over this runtime's database, Redis and settings."""
    return Scheduler(
        DueWork(rt),
        rt.aredis,
        rt.keys.scheduler_lock,
        interval_s=rt.settings.pump_interval_s,
        metrics=rt.metrics,
    )
