"""What a worker or scheduler process counts, and the hooks the code paths call to count it.

One `Metrics` per process lives on its `Runtime`. The hot path pays a dict update per provider
call and per rate-limit token; policy verdicts and state changes are tallied by the batch and
added once per dispatch job. Labels are low-cardinality by construction: channel, provider,
outcome, verdict, rule id, queue and state names — never an address, case or message id.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from channels.base import (
    DeliveryUnknown,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
)
from gateway.metrics.series import Counts, Levels, Series, Timings

if TYPE_CHECKING:
    from channels.base import Outgoing

# Provider calls: an SMS API answers in tens of milliseconds, an SMTP relay or a letter upload
# can take seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Rate-limit waits: 0 is its own bucket (a token was there), the top is RATE_LIMIT_MAX_WAIT_S.
WAIT_BUCKETS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
TICK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# An allowed message was stopped by no rule.
NO_RULE = "none"
# Every state dispatch moves a message into.
TRANSITIONS = (
    "sending",
    "sent",
    "retry_wait",
    "failed",
    "unknown",
    "deferred",
    "suppressed",
    "expired",
)
# The counts `dispatch()` returns for the last step of a batch → the state each one entered.
SEND_STATES = (
    ("sent", "sent"),
    ("retry", "retry_wait"),
    ("failed", "failed"),
    ("unknown", "unknown"),
)


def send_outcome(exc: Exception) -> str:
    """The `outcome` label of a provider call that raised `exc` (one that returned: `sent`)."""
    if isinstance(exc, DeliveryUnknown):
        return "unknown"
    if isinstance(exc, TransientProviderError):
        return "transient"
    if isinstance(exc, PermanentProviderError):
        return "provider_refused" if exc.provider_side else "rejected"
    return "error"


class Metrics:
    """Every series of one process. Written and scraped on the process's event loop only."""

    def __init__(self) -> None:
        # Dispatch (workers).
        self.sends = Counts(
            "gateway_sends_total",
            "Provider calls by channel, provider and outcome",
            ("channel", "provider", "outcome"),
        )
        self.latency = Timings(
            "gateway_provider_latency_seconds",
            "Duration of one provider call, any outcome",
            ("channel", "provider"),
            LATENCY_BUCKETS,
        )
        self.verdicts = Counts(
            "gateway_policy_verdicts_total",
            "Policy decisions by verdict and by the rule that made them",
            ("verdict", "rule"),
        )
        self.rate_waits = Timings(
            "gateway_rate_limit_wait_seconds",
            "Seconds a send waited for its provider's rate-limit token",
            ("provider",),
            WAIT_BUCKETS,
        )
        self.rate_denied = Counts(
            "gateway_rate_limit_denied_total",
            "Rate-limit tokens refused because the wait was too long (the message was deferred)",
            ("provider",),
        )
        self.rate_throttled = Counts(
            "gateway_rate_limit_throttled_total",
            "Provider answers of 'too fast' that lowered its rate for every worker for a while",
            ("provider",),
        )
        self.claims = Counts(
            "gateway_claims_total",
            "Message ids of dispatch jobs: claimed, or skipped (already taken or no longer due)",
            ("result",),
            [("claimed",), ("skipped",)],
        )
        self.transitions = Counts(
            "gateway_message_transitions_total",
            "Message state changes made by dispatch, by the state entered",
            ("to",),
            [(to,) for to in TRANSITIONS],
        )
        self.jobs = Counts(
            "gateway_jobs_total", "Dispatch jobs run, by queue and status", ("queue", "status")
        )
        self.job_seconds = Timings(
            "gateway_job_duration_seconds", "Duration of one dispatch job", ("queue",), JOB_BUCKETS
        )
        # Sampled on scrape (see gateway.exporter.sampled).
        self.queue_jobs = Levels(
            "gateway_queue_jobs", "Jobs in each RQ queue, by state", ("queue", "state")
        )
        self.circuits = Levels(
            "gateway_circuit_open", "1 while a provider's circuit breaker is open", ("provider",)
        )
        # The scheduler.
        self.leader = Levels(
            "gateway_scheduler_leader", "1 while this scheduler holds the leader lock"
        )
        self.pumped = Counts(
            "gateway_pumped_messages_total", "Due messages the pump enqueued (and re-enqueued)"
        )
        self.swept = Counts(
            "gateway_swept_claims_total",
            "Expired claims ended by the sweeper, by the state entered",
            ("to",),
            [("retry_wait",), ("unknown",)],
        )
        self.tick_seconds = Timings(
            "gateway_scheduler_tick_seconds", "Duration of one scheduler tick", (), TICK_BUCKETS
        )
        self.tick_errors = Counts(
            "gateway_scheduler_tick_errors_total", "Scheduler ticks that failed (logged)"
        )

    def worker_series(self) -> list[Series]:
        return [
            self.sends,
            self.latency,
            self.verdicts,
            self.rate_waits,
            self.rate_denied,
            self.rate_throttled,
            self.claims,
            self.transitions,
            self.jobs,
            self.job_seconds,
            self.queue_jobs,
            self.circuits,
        ]

    def scheduler_series(self) -> list[Series]:
        return [
            self.leader,
            self.pumped,
            self.swept,
            self.tick_seconds,
            self.tick_errors,
            self.queue_jobs,
        ]

    # --- dispatch hooks -----------------------------------------------------------------------

    async def timed_send(self, provider: Any, outgoing: Outgoing) -> SendResult:
        """`provider.send(outgoing)`, counted by outcome and timed; exceptions pass through."""
        started = time.perf_counter()
        outcome = "sent"
        try:
            return await provider.send(outgoing)  # type: ignore[no-any-return]
        except Exception as exc:
            outcome = send_outcome(exc)
            raise
        finally:
            key = (provider.channel, provider.name)
            self.latency.observe(key, time.perf_counter() - started)
            self.sends.inc((*key, outcome))

    def decided(self, verdicts: Any) -> None:
        """A dispatch batch's decisions, once they are committed (`gateway.services.verdicts`)."""
        self.verdicts.add(verdicts.tally)
        for to, rows in (
            ("expired", verdicts.expired),
            ("deferred", verdicts.deferred),
            ("suppressed", verdicts.suppressed),
            ("failed", verdicts.unrenderable),
            ("sending", verdicts.sending),
        ):
            if rows:
                self.transitions.inc((to,), len(rows))

    def dispatched(self, queue: str, asked: int, counts: Mapping[str, int], seconds: float) -> None:
        """A dispatch job's end: `asked` ids, the counts `dispatch()` returned, its duration."""
        claimed = counts.get("claimed", 0)
        self.claims.inc(("claimed",), claimed)
        self.claims.inc(("skipped",), max(0, asked - claimed))
        for key, to in SEND_STATES:
            if counts.get(key):
                self.transitions.inc((to,), counts[key])
        self.job_finished(queue, "finished", seconds)

    def job_finished(self, queue: str, status: str, seconds: float) -> None:
        self.jobs.inc((queue, status))
        self.job_seconds.observe((queue,), seconds)

    def rate_limit_waited(self, provider: str, seconds: float) -> None:
        self.rate_waits.observe((provider,), seconds)

    def rate_limit_denied(self, provider: str, tokens: int = 1) -> None:
        self.rate_denied.inc((provider,), tokens)

    def rate_limit_throttled(self, provider: str) -> None:
        self.rate_throttled.inc((provider,))

    # --- scheduler hooks ----------------------------------------------------------------------

    def ticked(
        self, seconds: float, *, leader: bool, pumped: int, swept: Mapping[str, int]
    ) -> None:
        self.leader.set((), 1.0 if leader else 0.0)
        self.tick_seconds.observe((), seconds)
        if pumped:
            self.pumped.inc((), pumped)
        for to, key in (("retry_wait", "requeued"), ("unknown", "unknown")):
            if swept.get(key):
                self.swept.inc((to,), swept[key])

    def tick_failed(self) -> None:
        self.tick_errors.inc()
