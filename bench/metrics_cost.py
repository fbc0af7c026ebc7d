"""`python -m bench.metrics_cost`: what counting costs the dispatch hot path, per message.

Times the hooks a worker runs for one SMS — the timed provider call (against the same call
unwrapped), one rate-limit wait, the verdict tally — and the per-batch ones (`decided`,
`dispatched`) divided over a batch of DISPATCH_CHUNK messages, next to what the same counting
would cost with `prometheus_client`'s locked metrics. Prints one JSON line per figure (ns).
"""

from __future__ import annotations

import asyncio
import json
import time
import timeit
from collections import Counter
from types import SimpleNamespace
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as LockedCounter
from prometheus_client import Histogram as LockedHistogram

from channels.base import Outgoing, SendResult
from gateway.metrics.recorder import LATENCY_BUCKETS, Metrics

BATCH = 100
ROUNDS = 200_000
RESULT = SendResult("ref")


class NullProvider:
    name: ClassVar[str] = "sandbox"
    channel: ClassVar[str] = "sms"

    async def send(self, message: Outgoing) -> SendResult:
        return RESULT


def per_call_ns(fn: Any, number: int = ROUNDS) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e9


async def awaited_ns(make: Any, number: int = ROUNDS) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(number):
            await make()
        best = min(best, time.perf_counter() - started)
    return best / number * 1e9


async def main() -> None:
    m = Metrics()
    provider, message = NullProvider(), Outgoing("m", "sms", "+10000000000", "body")
    bare = await awaited_ns(lambda: provider.send(message))
    timed = await awaited_ns(lambda: m.timed_send(provider, message))
    figures = {"timed_send_overhead_ns": timed - bare}
    figures["rate_limit_wait_ns"] = per_call_ns(lambda: m.rate_limit_waited("sandbox", 0.0))
    tally: Counter[tuple[str, str]] = Counter()
    key = ("allow", "none")

    def count_verdict() -> None:
        tally[key] += 1  # as `Verdicts.send` does

    empty = per_call_ns(lambda: None)  # the cost of calling a function at all, not counted
    figures["rate_limit_wait_ns"] -= empty
    figures["verdict_tally_ns"] = per_call_ns(count_verdict) - empty
    verdicts = SimpleNamespace(
        tally=Counter({("allow", "none"): 97, ("defer", "window.sms"): 3}),
        expired=[],
        deferred=[{}] * 3,
        suppressed=[],
        unrenderable=[],
        sending=[{}] * 97,
    )
    counts = {"claimed": BATCH, "deferred": 3, "sent": 97, "retry": 0, "failed": 0, "unknown": 0}

    def per_batch() -> None:
        m.decided(verdicts)
        m.dispatched("rg-dispatch", BATCH, counts, 0.05)

    figures["per_batch_hooks_per_message_ns"] = per_call_ns(per_batch, ROUNDS // 20) / BATCH
    figures["total_per_message_ns"] = sum(figures.values())

    # The same counting through prometheus_client's metrics (a lock per update).
    registry = CollectorRegistry()
    sends = LockedCounter("x_sends", "x", ["channel", "provider", "outcome"], registry=registry)
    latency = LockedHistogram(
        "x_latency", "x", ["channel", "provider"], buckets=LATENCY_BUCKETS, registry=registry
    )

    def locked() -> None:
        sends.labels("sms", "sandbox", "sent").inc()
        latency.labels("sms", "sandbox").observe(0.01)

    figures["prometheus_client_send_and_latency_ns"] = per_call_ns(locked) - empty
    for name, value in figures.items():
        print(json.dumps({"figure": name, "ns": round(value, 1)}))
    budget = figures["total_per_message_ns"] * 2000 / 1e9
    print(json.dumps({"figure": "cpu_share_at_2000_sms_per_s", "percent": round(budget * 100, 3)}))


if __name__ == "__main__":
    asyncio.run(main())
