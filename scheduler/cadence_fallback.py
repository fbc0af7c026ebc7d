"""Escalation on receipts: whether a cadence step whose message failed on its channel falls back
to another, to what, why, and when to look again — a pure function of the step, what its
messages became and `now` (no I/O, no clock).

A step's attempts are its own message (attempt 0) and the fallbacks made for it so far, each
from the next link of the step's chain (`scheduler.cadence.chain`). Only the latest attempt is
watched, for its fallback's `after` from when it was handed to a provider:

- an SMS `undelivered` or `failed` falls back at once; one with no delivery receipt by the end of
  the watch falls back then ("no receipt" is itself the failure);
- an email `bounced` or `failed` falls back at once; email has no delivery receipt, so one that
  is still quiet at the end of the watch is taken as arrived;
- a letter has no fallback (a returned one goes to an operator, see `gateway.services.receipts`).

The watch also ends as soon as a later step of the run has gone out: a fallback replaces its
step's contact, it never comes after the next one (the debtor has been reached since).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.cadence import WATCH, Fallback, Step, chain, format_duration

# Message states in which it was handed to a provider (or may have been: `unknown`).
HANDED_OVER = frozenset({"sent", "delivered", "undelivered", "bounced", "returned", "unknown"})
# States in which a message still waits to be sent.
WAITING = frozenset({"accepted", "deferred", "retry_wait", "dispatching", "sending"})
# What counts as a failure of each channel's message, by its state.
FAILED_ON = {"sms": ("undelivered", "failed"), "email": ("bounced", "failed")}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One message a step sent, as the decision needs it. `state` None: intake refused it and
    there is no message."""

    channel: str
    state: str | None
    reason: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    # When a waiting message is next tried.
    expected_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    # The fallback to make now (attempt number `len(attempts)`), and why.
    fallback: Fallback | None = None
    why: str | None = None
    # When to look at the step again; None once nothing more can happen to it.
    check_at: datetime | None = None


def decide(
    step: Step,
    attempts: Sequence[Attempt],
    now: datetime,
    *,
    superseded: bool = False,
    recheck: timedelta = timedelta(seconds=60),
) -> Decision:
    """What to do about a step whose messages are `attempts` (oldest first, at least one).
    `superseded`: a later step has gone out since. `recheck`: how long after a waiting fallback's
    next try to look whether it went out."""
    link = next_link(step, attempts)
    if superseded or link is None:
        return Decision()
    latest = attempts[-1]
    if latest.state in WAITING:
        # A fallback on its way: look again once it has been tried (attempt 0 is the plan's).
        ahead = max(latest.expected_at or now, now) + recheck
        return Decision(check_at=ahead if len(attempts) > 1 else None)
    if latest.state is None or latest.state not in HANDED_OVER | {"failed"}:
        return Decision()  # refused, suppressed, expired, cancelled: no channel failed
    why = failure(latest)
    if why is not None:
        return Decision(fallback=link, why=why)
    if latest.delivered_at is not None or latest.state == "delivered":
        return Decision()
    watch = link.after or WATCH.get(latest.channel)
    if latest.sent_at is None or watch is None:
        return Decision()
    end = latest.sent_at + watch
    if now < end:
        return Decision(check_at=end)
    if latest.channel == "sms":
        return Decision(
            fallback=link,
            why=f"sms not delivered within {_span(watch)}: no delivery receipt",
        )
    return Decision()


def next_link(step: Step, attempts: Sequence[Attempt]) -> Fallback | None:
    """The link of the step's chain after the one its latest message went on (found by its
    channel, so a step released straight on its fallback's channel goes on from there)."""
    if not attempts:
        return None
    links = chain(step)
    channels = [step.channel, *(link.channel for link in links)]
    latest = attempts[-1].channel
    position = channels.index(latest) if latest in channels else len(attempts) - 1
    return links[position] if position < len(links) else None


def failure(attempt: Attempt) -> str | None:
    """Why this message failed on its channel (`"sms undelivered: <reason>"`), or None."""
    if attempt.state not in FAILED_ON.get(attempt.channel, ()):
        return None
    return f"{attempt.channel} {attempt.state}: {attempt.reason or 'no reason given'}"


def reached_at(fallbacks: Sequence[Attempt], now: datetime) -> datetime | None:
    """When the step last reached out through a fallback: the latest one handed over, or one on
    its way (next tried then, not before now). Later steps count from it; None: from the step's
    own message."""
    for attempt in reversed(fallbacks):
        if attempt.state in HANDED_OVER and attempt.sent_at is not None:
            return attempt.sent_at
        if attempt.state in WAITING:
            return max(attempt.expected_at or now, now)
    return None


def _span(delta: timedelta) -> str:
    """A watch as people say it: "24h", "2h", "3d", "90m"."""
    hours, rest = divmod(int(delta.total_seconds()), 3600)
    return f"{hours}h" if not rest and hours <= 48 else format_duration(delta)
