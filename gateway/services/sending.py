"""Handing rendered messages to providers: failover in preference order, circuit breakers, backoff.

Per message, the channel's providers are tried in the configured order. A provider whose circuit
is open is skipped; a provider-side permanent failure passes the message to the next one. A
transient failure ends the attempt: the message waits (exponential backoff with jitter, never
sooner than the provider's Retry-After) and the next attempt starts again from the first provider
whose circuit lets it through. Every outcome becomes one row update and one timeline entry.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from typing import Any

import structlog

from channels.base import DeliveryUnknown, Outgoing, PermanentProviderError, TransientProviderError
from channels.circuit import CircuitBreaker
from gateway.ratelimit import RateLimited
from gateway.runtime import Runtime
from gateway.services.outcome import Outcome
from gateway.store import timeline

log = structlog.get_logger()


def backoff(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter in its upper half; never sooner than `retry_after`."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return max(random.uniform(ceiling / 2, ceiling), retry_after or 0.0)


def breaker(rt: Runtime, name: str) -> CircuitBreaker:
    found = rt.breakers.get(name)
    if found is None:
        found = rt.breakers[name] = CircuitBreaker(
            rt.settings.circuit_failures, rt.settings.circuit_reset_s
        )
    return found


async def send_all(
    rt: Runtime,
    batch: list[tuple[Any, Outgoing]],
    deadlines: dict[str, datetime] | None = None,
) -> Outcome:
    """Send a batch concurrently (bounded). `deadlines`: message id → the instant its contact
    window closes; nothing is handed to a provider after it."""
    outcome = Outcome()
    deadlines = deadlines or {}
    # A fixed number of senders taking the next message in turn: a semaphore would wake and
    # re-check every waiter on each release (quadratic in the batch).
    queue = iter(batch)

    async def sender() -> None:
        for row, outgoing in queue:
            await send_one(rt, row, outgoing, outcome, deadlines.get(row.id))

    await asyncio.gather(*(sender() for _ in range(min(rt.settings.send_concurrency, len(batch)))))
    return outcome


def _too_late(rt: Runtime, row: Any, deadline: datetime | None, outcome: Outcome) -> bool:
    """Past its window's end: the message goes back to be decided again (and deferred)."""
    now = rt.clock()
    if deadline is None or now < deadline:
        return False
    outcome.wait(row, now, now, "the contact window closed before it was sent", handed_over=False)
    return True


async def send_one(
    rt: Runtime, row: Any, outgoing: Outgoing, outcome: Outcome, deadline: datetime | None = None
) -> None:
    attempt = row.attempts + 1
    providers = rt.providers_for(row.channel)
    if not providers:
        outcome.fail(row, rt.clock(), f"no {row.channel} provider configured", attempt=attempt)
        return
    skipped: list[str] = []
    for provider in providers:
        circuit = breaker(rt, provider.name)
        if not circuit.allow():
            skipped.append(provider.name)
            continue
        sender = str(getattr(provider, "sender", "") or "")
        if _too_late(rt, row, deadline, outcome):
            return
        if rt.limiter is not None and rt.limiter.limited(provider.name):
            max_wait = rt.settings.rate_limit_max_wait_s
            if deadline is not None:
                max_wait = min(max_wait, (deadline - rt.clock()).total_seconds())
            try:
                await rt.limiter.acquire(provider.name, sender, max_wait_s=max_wait)
            except RateLimited as exc:
                # Over the provider's rate for longer than a worker should hold a claim: the
                # message waits its turn in the database instead (a backlog never bursts).
                now = rt.clock()
                wait = exc.retry_after * random.uniform(1.0, 1.2)
                outcome.wait(
                    row,
                    now,
                    now + timedelta(seconds=wait),
                    "rate limited",
                    handed_over=False,
                    provider=provider.name,
                )
                return
            if _too_late(rt, row, deadline, outcome):
                return
        try:
            result = await rt.metrics.timed_send(provider, outgoing)
        except DeliveryUnknown as exc:
            circuit.failure()
            now = rt.clock()
            outcome.unknown.append(
                {
                    "id": row.id,
                    "provider": provider.name,
                    "state_reason": exc.reason[:128],
                    "lease_until": None,
                }
            )
            outcome.entries.append(
                timeline.entry(
                    row.case_id,
                    "outcome_unknown",
                    now,
                    message_id=row.id,
                    attempt=attempt,
                    provider=provider.name,
                    reason=exc.reason,
                )
            )
            return
        except TransientProviderError as exc:
            circuit.failure()
            if exc.retry_after is not None and rt.limiter is not None:
                # The provider said "too fast" (429, throttled): every worker slows down for a while.
                await rt.limiter.throttled(provider.name, sender or None)
            _transient(rt, row, attempt, provider.name, exc, outcome)
            return
        except PermanentProviderError as exc:
            if exc.provider_side:
                circuit.failure()
                outcome.entries.append(
                    timeline.entry(
                        row.case_id,
                        "provider_refused",
                        rt.clock(),
                        message_id=row.id,
                        attempt=attempt,
                        provider=provider.name,
                        reason=exc.reason,
                    )
                )
                continue
            circuit.success()
            if exc.contact_status is not None:
                outcome.contacts.append((row.contact_id, exc.contact_status, exc.reason[:64]))
            outcome.fail(
                row,
                rt.clock(),
                exc.reason,
                attempt=attempt,
                provider=provider.name,
                contact_status=exc.contact_status,
            )
            return
        except Exception as exc:  # noqa: BLE001 — a provider bug must not leave the batch half-recorded
            circuit.failure()
            log.exception("provider_crashed", provider=provider.name, message_id=row.id)
            outcome.fail(
                row,
                rt.clock(),
                f"provider error: {type(exc).__name__}",
                attempt=attempt,
                provider=provider.name,
            )
            return
        circuit.success()
        now = rt.clock()
        outcome.sent.append(
            {
                "id": row.id,
                "provider": provider.name,
                "provider_ref": result.provider_ref,
                "sent_at": now,
                "lease_until": None,
            }
        )
        outcome.entries.append(
            timeline.entry(
                row.case_id,
                "sent",
                now,
                message_id=row.id,
                attempt=attempt,
                provider=provider.name,
                provider_ref=result.provider_ref,
                skipped=skipped or None,
                **result.detail,
            )
        )
        return
    # Every provider is open-circuited or refused on its own side (credentials, account, no
    # approved template): not the message's fault, so it waits — until attempts run out.
    now = rt.clock()
    reason = "all providers unavailable" if skipped else "every provider refused the message"
    if attempt >= rt.settings.max_attempts:
        outcome.fail(row, now, reason, attempt=attempt, final=True)
        return
    delay = backoff(attempt, rt.settings.retry_base_s, rt.settings.retry_cap_s)
    if skipped:
        delay = max(min(breaker(rt, name).retry_in() for name in skipped), 1.0)
    outcome.wait(
        row,
        now,
        now + timedelta(seconds=delay),
        reason,
        attempt=attempt,
        circuit_open=skipped or None,
    )


def _transient(
    rt: Runtime,
    row: Any,
    attempt: int,
    provider: str,
    exc: TransientProviderError,
    outcome: Outcome,
) -> None:
    now = rt.clock()
    if attempt >= rt.settings.max_attempts:
        outcome.fail(
            row,
            now,
            f"gave up after {attempt} attempts: {exc.reason}",
            attempt=attempt,
            provider=provider,
            final=True,
        )
        return
    delay = backoff(attempt, rt.settings.retry_base_s, rt.settings.retry_cap_s, exc.retry_after)
    outcome.wait(
        row, now, now + timedelta(seconds=delay), exc.reason, attempt=attempt, provider=provider
    )
