"""Provider rate limits against a real Redis: the Lua token bucket, throttle feedback, and several
real processes sharing one bucket without ever exceeding rate × seconds + burst."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

from gateway.metrics.recorder import Metrics
from gateway.ratelimit import Limit, RateLimited, RateLimiter
from gateway.redis_keys import Keys

Factory = Callable[..., RateLimiter]


@pytest.fixture
async def limiter(redis_url: str) -> AsyncIterator[Factory]:
    """Builds limiters on one client under a key prefix of this test's own; removes its keys."""
    client = aredis.Redis.from_url(redis_url)
    keys = Keys(f"t{uuid.uuid4().hex[:8]}")

    def build(
        providers: dict[str, Limit] | None = None,
        senders: dict[str, Limit] | None = None,
        **options: Any,
    ) -> RateLimiter:
        return RateLimiter(client, keys, providers or {}, senders, **options)

    yield build
    async for key in client.scan_iter(f"{keys.prefix}:*"):
        await client.delete(key)
    await client.aclose()


async def drain(take: Callable[[], Awaitable[float]]) -> int:
    """How many immediate grants `take` (a try-acquire) gets before RateLimited."""
    granted = 0
    while True:
        try:
            await take()
        except RateLimited:
            return granted
        granted += 1


async def flow(rl: RateLimiter, seconds: float, provider: str = "p", sender: str = "a") -> int:
    """Grants completed (waits slept) within `seconds`, acquiring back to back."""
    end = time.monotonic() + seconds
    done = 0
    while True:
        await rl.acquire(provider, sender, max_wait_s=seconds)
        if time.monotonic() > end:
            return done
        done += 1


async def reserve_bracketed(rl: RateLimiter) -> tuple[float, float]:
    """Reserve a token; when it falls due on this clock, at the earliest and at the latest.

    A wait is counted from the moment Redis ran the call, somewhere between sending it and
    getting the answer: on a busy machine that is not "now" to within a millisecond."""
    before = time.monotonic()
    wait = await rl.reserve("p", "a", max_wait_s=10)
    return before + wait, time.monotonic() + wait


async def test_burst_at_once_then_rate_per_second(limiter: Factory) -> None:
    rl = limiter({"p": Limit(20.0, 5)})
    assert await drain(lambda: rl.reserve("p", "a", max_wait_s=0)) == 5
    # Reservations queue up one token-interval apart: nothing bursts to "catch up". (The instants
    # they fall due, not the waits, which shrink by however long passed between two calls.)
    due = [await reserve_bracketed(rl) for _ in range(5)]
    for (earliest, latest), (next_earliest, next_latest) in zip(due, due[1:], strict=False):
        assert next_earliest - latest - 0.001 <= 0.05 <= next_latest - earliest + 0.001, due
    first_wait = due[0][1] - time.monotonic()
    assert first_wait <= 0.05  # the burst is gone: the next token is the next refill
    repaid = due[-1][1]
    await asyncio.sleep(max(0.0, repaid - time.monotonic()))  # the debt is repaid
    # 20/s × 1.5 s, and nothing left over from the burst: at most what refilled since the debt
    # was repaid (a late wake-up here lets tokens refill before the flow starts).
    late = time.monotonic() - repaid
    granted = await flow(rl, 1.5)
    assert 28 <= granted <= 31 + 20 * late, (granted, late)


async def test_a_wait_too_long_is_refused_and_reserves_nothing(limiter: Factory) -> None:
    rl = limiter({"p": Limit(2.0, 1)})
    assert await rl.acquire("p", "a", max_wait_s=0) == 0.0
    with pytest.raises(RateLimited) as caught:
        await rl.acquire("p", "a", max_wait_s=0.1)
    assert 0.4 < caught.value.retry_after <= 0.5
    with pytest.raises(RateLimited) as again:  # the refusal took no token
        await rl.reserve("p", "a", max_wait_s=0.1)
    assert again.value.retry_after <= caught.value.retry_after
    with pytest.raises(ValueError, match="burst"):
        await rl.reserve("p", "a", 2, max_wait_s=10)


async def test_sender_buckets_are_independent(limiter: Factory) -> None:
    rl = limiter(senders={"p": Limit(1.0, 3)})
    assert await drain(lambda: rl.reserve("p", "+15550001", max_wait_s=0)) == 3
    assert await drain(lambda: rl.reserve("p", "+15550002", max_wait_s=0)) == 3
    assert not rl.limited("q")  # unlimited: no Redis call, never a wait
    assert [await rl.reserve("q", "+15550001", max_wait_s=0) for _ in range(10)] == [0.0] * 10


async def test_provider_bucket_is_shared_by_its_senders(limiter: Factory) -> None:
    rl = limiter({"p": Limit(1.0, 4)}, {"p": Limit(1.0, 3)})
    assert await drain(lambda: rl.reserve("p", "a", max_wait_s=0)) == 3
    # The provider's bucket has one left; b's own bucket is full, but both must grant.
    assert await drain(lambda: rl.reserve("p", "b", max_wait_s=0)) == 1
    # And a refusal by one level took nothing from the other.
    senders_only = limiter(senders={"p": Limit(1.0, 3)})
    assert await drain(lambda: senders_only.reserve("p", "b", max_wait_s=0)) == 2


async def test_throttled_halves_the_rate_until_it_expires(limiter: Factory) -> None:
    rl = limiter({"p": Limit(20.0, 1)})
    assert 10 <= await flow(rl, 0.6) <= 13
    await rl.throttled("p", "a", factor=0.5, for_s=0.8)
    started = time.monotonic()
    assert 5 <= await flow(rl, 0.6) <= 7
    await asyncio.sleep(0.8 - (time.monotonic() - started))
    assert 10 <= await flow(rl, 0.6) <= 13


async def test_throttle_reaches_sender_buckets_and_keeps_the_lowest(limiter: Factory) -> None:
    rl = limiter(senders={"p": Limit(10.0, 1)})
    await rl.throttled("p", "a", factor=0.25, for_s=5)
    await rl.throttled("p", "a", factor=0.5, for_s=5)  # a milder one does not undo it
    await rl.reserve("p", "a", max_wait_s=0)
    assert 0.38 < await rl.reserve("p", "a", max_wait_s=10) <= 0.4  # 2.5/s
    assert await rl.reserve("p", "b", max_wait_s=0) == 0.0  # b's bucket is not throttled:
    assert 0.09 < await rl.reserve("p", "b", max_wait_s=10) <= 0.1  # still 10/s
    await rl.throttled("unlimited", "a")  # nothing to lower: no error, no key


async def test_idle_buckets_expire_and_scripts_survive_a_flush(
    limiter: Factory, redis_url: str
) -> None:
    rl = limiter({"p": Limit(100.0, 10)})
    await rl.reserve("p", "a", max_wait_s=0)
    client = aredis.Redis.from_url(redis_url)
    try:
        # Refilled after 10 ms; kept one more second, then gone (it would come back full anyway).
        assert 0 < await client.pttl(rl.keys.rate_bucket("p")) <= 1010
        await client.script_flush()  # a restarted Redis: EVALSHA answers NOSCRIPT, EVAL follows
        assert await rl.reserve("p", "a", max_wait_s=0) == 0.0
    finally:
        await client.aclose()


async def test_a_backlog_flows_at_the_rate(limiter: Factory) -> None:
    """50 sends released at once (a contact window opening): burst, then one per token."""
    rl = limiter({"p": Limit(50.0, 5)})
    t0 = time.monotonic()
    finished: list[float] = []
    refused: list[float] = []

    answered: list[float] = []

    async def send() -> None:
        try:  # acquire(), with the moment Redis answered noted
            wait = await rl.reserve("p", "a", max_wait_s=0.5)
            answered.append(time.monotonic() - t0)
            await asyncio.sleep(wait)
            finished.append(time.monotonic() - t0)
        except RateLimited as exc:
            answered.append(time.monotonic() - t0)
            refused.append(exc.retry_after)

    await asyncio.gather(*(send() for _ in range(50)))
    # Burst 5, then 50/s for the half second each may wait: 30. Each request's half second counts
    # from when Redis ran it, so requests a busy loop sent later may see a few tokens further.
    spread = max(answered)
    assert 29 <= len(finished) <= 31 + 50 * spread, (len(finished), spread)
    assert all(r > 0.5 for r in refused)
    for t in sorted(finished):
        done_by_t = sum(1 for f in finished if f <= t)
        assert done_by_t <= 5 + 50 * t + 1, (t, done_by_t)


WORKER = """
import asyncio, json, sys, time
import redis.asyncio as aredis
from gateway.metrics.recorder import Metrics
from gateway.ratelimit import Limit, RateLimited, RateLimiter
from gateway.redis_keys import Keys

url, prefix, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])

async def main():
    client = aredis.Redis.from_url(url)
    rl = RateLimiter(client, Keys(prefix), {"p": Limit(40.0, 10)})
    await client.ping()
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    end = start + seconds
    counts = {"granted": 0, "late": 0}

    async def loop():
        while time.time() < end:
            try:
                await rl.acquire("p", "a", max_wait_s=0.5)
            except RateLimited as exc:
                await asyncio.sleep(min(exc.retry_after, 0.05))
                continue
            counts["granted" if time.time() <= end else "late"] += 1

    await asyncio.sleep(start - time.time())
    await asyncio.gather(*(loop() for _ in range(8)))
    await client.aclose()
    print(json.dumps(counts))

asyncio.run(main())
"""


@pytest.mark.slow
def test_processes_sharing_a_bucket_never_exceed_it(redis_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    seconds = 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, prefix, repr(seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    # The start is set once every process is up and connected (starting Python on a busy machine
    # can take longer than any fixed head start), and is the same instant for all of them.
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    start = time.time() + 0.5
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(f"{start!r}\n")
        p.stdin.flush()
    results = [json.loads(p.communicate(timeout=30)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    granted = sum(r["granted"] for r in results)
    # 40/s × 1.5 s + 10: the limit; and it must actually be used, not merely respected.
    assert 60 <= granted <= 40 * seconds + 10, results
    assert all(r["granted"] > 0 for r in results), results
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


async def test_waits_refusals_and_throttle_answers_are_counted(limiter: Factory) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)  # the test does not wait for tokens, it counts them

    m = Metrics()
    rl = limiter({"p": Limit(0.5, 1)}, sleep=sleep, metrics=m)
    assert await rl.acquire("p", "a", max_wait_s=5) == 0.0
    await rl.acquire("p", "a", max_wait_s=5)  # reserved ~2 s ahead
    with pytest.raises(RateLimited):
        await rl.acquire("p", "a", max_wait_s=0.01)
    await rl.acquire("unlimited", "a", max_wait_s=1)  # nothing limits it: nothing to count
    await rl.throttled("p", "a")
    await rl.throttled("unlimited", "a")  # no rate to lower

    assert m.rate_waits.count(("p",)) == 2
    assert m.rate_waits.series[("p",)][-1] == pytest.approx(sum(slept))
    assert sum(slept) > 0
    assert m.rate_waits.count(("unlimited",)) == 0
    assert m.rate_denied.values == {("p",): 1}
    assert m.rate_throttled.values == {("p",): 1}
