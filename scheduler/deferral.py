"""The maximum deferral (compliance §6.1 "Deferral policy"): how long a message may wait.

A deferred step slides at most the preset's `max_defer_hours`, then it is dropped, so that
messages held back by caps or a pause never pile up and go out in a burst later. What counts is
**open contact-window time**: the hours, between when the message was meant to go
(`scheduled_at`) and the instant it would go, in which it could have been sent had nothing held
it back — the window of every candidate zone, with the debtor's own hours and days, the safety
margin cut. Hours the window was closed anyway (nights, Sundays, holidays, 除夕 and 春节) cost
nothing: a message accepted while the window is closed starts counting at the first instant it
could have gone, and a UK reminder accepted on Christmas Eve evening waits for Tuesday 29th.
Letters and the answers that ignore the window (opt-out confirmation, HELP, acknowledgement)
have no window, so every hour of their wait counts. The caller's own `not_before` is never cut.

Pure: the caller passes the decision and the facts; no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from scheduler import personal, windows
from scheduler.decisions import (
    IMMEDIATE_ANSWERS,
    WINDOWED,
    CaseFacts,
    Decision,
    MessageFacts,
    Verdict,
)
from scheduler.presets import Preset

MAX_DEFER_RULE = "defer.max_exceeded"
# Beyond a year of calendar time a wait is too long whatever the window (a debtor's hours may
# meet it for minutes a week), and counting open time further would cost a year of windows.
LONGEST_WAIT = timedelta(days=366)


def bounded(
    decision: Decision, message: MessageFacts, case: CaseFacts, preset: Preset | None
) -> Decision:
    """The decision, or the drop it becomes when its deferral would miss more than the preset's
    `max_defer_hours` of open window: a deferred step is never stacked up for a burst (§6.1)."""
    if decision.verdict is not Verdict.DEFER:  # most decisions: one test, no call
        return decision
    return expiry(decision, message, case, preset) or decision


def expiry(
    decision: Decision, message: MessageFacts, case: CaseFacts, preset: Preset | None
) -> Decision | None:
    """The drop (`defer.max_exceeded`, with its reason) a deferral to `decision.until` would
    become, or None when the message may wait that long."""
    if (
        decision.verdict is not Verdict.DEFER
        or preset is None
        or message.scheduled_at is None
        or decision.rule == "message.not_before"
    ):
        return None
    assert decision.until is not None
    limit = preset.max_defer
    # Open time never exceeds calendar time: most waits need no windows at all.
    if decision.until - message.scheduled_at <= limit:
        return None
    if missed_window(message, case, preset, message.scheduled_at, decision.until) <= limit:
        return None
    hours = preset.max_defer_hours.value
    counted = " (counted in open contact-window time)" if _windowed(message) else ""
    return Decision(
        Verdict.SUPPRESS,
        rule=MAX_DEFER_RULE,
        reason=f"{decision.rule} would hold it until {decision.until.isoformat()}, "
        f"past the {hours} h maximum deferral{counted}",
        preset=preset.name,
        preset_version=preset.version,
    )


def last_deferral(
    decision: Decision, decide_at: Callable[[datetime], Decision], hops: int = 8
) -> Decision:
    """Where a deferral really ends: each rule's `until` is decided again (`decide_at`), since a
    pause may end at night and a cap free on a Sunday, and the last deferral of that chain is
    returned — its `until` the next instant the message may go, or when it is next decided if
    another rule then stops it. `hops` bounds the chain; the decision itself if not deferred."""
    for _ in range(hops):
        if decision.verdict is not Verdict.DEFER or decision.until is None:
            break
        later = decide_at(decision.until)
        if later.verdict is not Verdict.DEFER or later.until is None:
            break
        if later.until <= decision.until:
            break
        decision = later
    return decision


def missed_window(
    message: MessageFacts, case: CaseFacts, preset: Preset, start: datetime, end: datetime
) -> timedelta:
    """The open window time in [start, end) this message could have gone in, counted only until
    it passes `preset.max_defer`; all of it for a message with no window."""
    wall = end - start
    if wall <= preset.max_defer or wall > LONGEST_WAIT or not _windowed(message):
        return wall
    zones = list(case.zones) or preset.fallback_zones
    r = case.restrictions
    if r is not None and (r.hours is not None or r.days is not None):
        mine = personal.narrowed(preset, r)
        # Hours that never meet the window leave the message to a person once it may be
        # decided again (a pause ends); until then the preset's own window counts.
        if any(mine.window(message.channel, day) for day in range(7)):
            preset = mine
    return windows.open_time(zones, message.channel, preset, start, end, preset.max_defer)


def _windowed(message: MessageFacts) -> bool:
    return message.channel in WINDOWED and message.purpose not in IMMEDIATE_ANSWERS
