"""Where a running cadence stands: which step is next, when it is due, which are skipped and why.

A pure function of the cadence, the case's facts, the run's start, the history of its steps and
`now` — no I/O, no clock. The scheduler's shell stores the answer (each step's due time on its
row) and acts on it (release, skip, stop).

Due times come from what actually happened, not from the calendar alone: a step's nominal time
(its DPD mark, or its offset from the start) is pushed back by however late the last sent step
went out. A step the contact policy deferred by a day moves every later step by a day, instead of
the later ones bunching up behind it — the cadence never "catches up" (compliance §6.7: the rule
engine can only delay, drop or reroute). A step is never due before the previous one was sent,
and is not considered at all while the previous one's message is still on its way.

A paused case (a promise to pay, until the promised date and its grace) holds the run where it
is: no step is due before the pause ends, and the later steps move with the one it holds. A step
on a channel the debtor opted out of is skipped, or goes by its fallback when it has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from scheduler.cadence import Cadence, Fallback, Step, format_duration

StepState = Literal["pending", "released", "sent", "skipped", "cancelled"]
DONE = frozenset({"sent", "skipped", "cancelled"})


@dataclass(frozen=True, slots=True)
class Facts:
    """What the plan needs of the case: its state, the debt's due date (day 0 of DPD marks),
    when the debtor last wrote to us, until when the case is paused, and the channels the debtor
    opted out of (none of the case's points on it can be written to)."""

    state: str
    state_reason: str | None = None
    due_date: date | None = None
    replies: tuple[datetime, ...] = ()
    paused_until: datetime | None = None
    opted_out: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StepRecord:
    """What happened to one step so far. `expected_at` is when a released step's message is
    next tried (its `next_attempt_at`), while it has not been sent."""

    state: StepState = "pending"
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    expected_at: datetime | None = None
    reason: str | None = None
    # When the step last reached out through a fallback (`scheduler.cadence_fallback`): later
    # steps count from it instead of from `sent_at`.
    resent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StepView:
    index: int
    name: str
    state: StepState
    # When it is due (pending), or was due; None while it waits on an earlier step with no time.
    due: datetime | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[StepView, ...]
    # What to do now: steps to skip (with why), then at most one to release.
    skip: tuple[tuple[int, str], ...] = ()
    release: int | None = None
    # The released step goes by its fallback instead (its own channel is opted out), and why.
    via: Fallback | None = None
    via_reason: str | None = None
    # A stop condition the case meets: every pending step is cancelled with this reason.
    stop: str | None = None
    finished: bool = False
    # When the shell should look at the run again (the next pending step's due time).
    next_due: datetime | None = None


def stop_reason(cadence: Cadence, facts: Facts) -> str | None:
    """The first of the cadence's stop conditions the case meets, as a reason; None if none."""
    for condition in cadence.stop_on:
        met = {
            "paid": facts.state == "closed" and facts.state_reason == "paid",
            "closed": facts.state == "closed",
            "hold": facts.state == "hold",
            "ceased": facts.state == "ceased",
        }[condition]
        if met:
            why = f" ({facts.state_reason})" if facts.state_reason else ""
            return f"stop_on.{condition}: the case is {facts.state}{why}"
    return None


def nominal(cadence: Cadence, facts: Facts, start: datetime) -> list[datetime]:
    """Each step's time if every step went out exactly on time: DPD marks at 00:00 UTC of their
    day (the contact window then defers to the debtor's local hours), offsets from the start,
    and `after_previous` from the step before."""
    out: list[datetime] = []
    for step in cadence.steps:
        if step.dpd is not None:
            day = (facts.due_date or start.date()) + timedelta(days=step.dpd)
            out.append(datetime.combine(day, time(0), UTC))
        elif step.after_start is not None:
            out.append(start + step.after_start)
        else:
            assert step.after_previous is not None
            out.append(out[-1] + step.after_previous)
    return out


def plan(
    cadence: Cadence,
    facts: Facts,
    start: datetime,
    history: Sequence[StepRecord],
    now: datetime,
) -> Plan:
    """Where the run stands at `now`, and what to do about it (see the module's docstring)."""
    records = list(history) + [StepRecord()] * (len(cadence.steps) - len(history))
    marks = nominal(cadence, facts, start)
    stop = stop_reason(cadence, facts)
    views: list[StepView] = []
    skip: list[tuple[int, str]] = []
    release: int | None = None
    via: tuple[Fallback, str] | None = None
    # The last step that went out: (its nominal time, when it was actually sent).
    ref: tuple[datetime, datetime] | None = None
    # Past a step still waiting (pending or on its way), later steps are only projections.
    blocked = False
    for index, (step, record) in enumerate(zip(cadence.steps, records, strict=True)):
        due = _due(step, marks[index], ref, records[index - 1] if index else None)
        if record.state == "pending" and facts.paused_until is not None:
            # Held by the pause: nothing goes before it ends, the later steps move with this one.
            due = max(due, facts.paused_until)
        if record.state in DONE:
            views.append(StepView(index, step.name, record.state, due, record.reason))
            reached = record.resent_at or (record.sent_at if record.state == "sent" else None)
            if reached is not None:
                ref = (marks[index], reached)
            continue
        if record.state == "released":
            views.append(StepView(index, step.name, "released", due, record.reason))
            # Not sent yet: later steps are projected from when it is next tried.
            expected = max(record.expected_at or now, now)
            ref, blocked = (marks[index], expected), True
            continue
        if stop is not None:
            views.append(StepView(index, step.name, "pending", due, None))
            continue
        if blocked or release is not None or due > now:
            views.append(StepView(index, step.name, "pending", due, None))
            ref, blocked = (marks[index], due), True
            continue
        why = _skip_reason(step, index, facts, start, marks[index], ref, records, now)
        fallback = None
        if why is None and step.channel in facts.opted_out:
            fallback, why = opted_out(step, facts)
        if why is not None and fallback is None:
            skip.append((index, why))
            views.append(StepView(index, step.name, "skipped", due, why))
            continue
        release, via = index, fallback
        views.append(StepView(index, step.name, "pending", due, why))
        ref, blocked = (marks[index], now), True
    pending = [v for v in views if v.state == "pending"]
    waiting = [v for v in pending if v.index != release]
    return Plan(
        steps=tuple(views),
        skip=tuple(skip),
        release=release,
        via=via[0] if via is not None else None,
        via_reason=via[1] if via is not None else None,
        stop=stop if pending else None,
        finished=not pending and not any(v.state == "released" for v in views),
        next_due=waiting[0].due if waiting and stop is None else None,
    )


def opted_out(step: Step, facts: Facts) -> tuple[tuple[Fallback, str] | None, str]:
    """A due step on an opted-out channel: ((its fallback, why), why) when it has a fallback
    the debtor can still be written to on, else (None, why the step is skipped)."""
    why = f"opted_out: the debtor opted out of {step.channel}"
    fallback = step.fallback
    if fallback is None:
        return None, why
    if fallback.channel in facts.opted_out:
        return None, f"{why}, and of {fallback.channel}, its fallback's channel"
    instead = f"{why}; its fallback goes instead ({fallback.channel}, {fallback.template})"
    return (fallback, instead), instead


def _due(
    step: Step,
    mark: datetime,
    ref: tuple[datetime, datetime] | None,
    previous: StepRecord | None,
) -> datetime:
    """A step's due time: its nominal time, pushed back by how late the last sent step went
    out, and never before the previous step was sent (or, with `if:`, before the previous step's
    delivery had its chance)."""
    due = mark
    if ref is not None:
        ref_mark, ref_sent = ref
        due = max(due, ref_sent + (mark - ref_mark))
    if step.if_ is not None and previous is not None and previous.sent_at is not None:
        due = max(due, previous.sent_at + step.if_.previous_not_delivered_within)
    if previous is not None and previous.sent_at is not None:
        due = max(due, previous.sent_at)
    return due


def _skip_reason(
    step: Step,
    index: int,
    facts: Facts,
    start: datetime,
    mark: datetime,
    ref: tuple[datetime, datetime] | None,
    records: Sequence[StepRecord],
    now: datetime,
) -> str | None:
    """Why a due step does not go, or None when it goes."""
    if step.dpd is not None and mark.date() < start.date():
        return f"passed: DPD {step.dpd} ({mark.date().isoformat()}) was before the cadence started"
    if step.states is not None and facts.state not in step.states:
        return (
            f"states: the case is {facts.state}; the step goes only when {', '.join(step.states)}"
        )
    if step.unless == "replied_since_previous":
        since = ref[1] if ref is not None else start
        if any(since < r <= now for r in facts.replies):
            return "unless.replied_since_previous: the debtor replied since the previous step"
    if step.if_ is not None and index > 0:
        previous = records[index - 1]
        window = step.if_.previous_not_delivered_within
        if (
            previous.sent_at is not None
            and previous.delivered_at is not None
            and previous.delivered_at <= previous.sent_at + window
        ):
            return (
                "if.previous_not_delivered_within: the previous step was delivered within "
                f"{format_duration(window)}"
            )
    return None
