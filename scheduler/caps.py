"""Frequency caps (compliance §6.5): pure counting over a debtor's earlier touches.

A touch is a proactive message handed to a provider (counted on attempts, delivered or not), on
any of the debtor's cases. Caps are per channel or across channels, over rolling windows, plus a
minimum gap between any two touches. Exempt purposes (opt-out confirmations, statutory notices,
replies inside an inbound conversation) are neither capped nor counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.decisions import Decision, Touch, Verdict

WINDOWS = {
    "rolling_24h": timedelta(hours=24),
    "rolling_7d": timedelta(days=7),
    "rolling_30d": timedelta(days=30),
}


@dataclass(frozen=True, slots=True)
class Cap:
    max: int
    window: timedelta
    channel: str | None = None  # None: across every channel
    tag: str = "P"

    @property
    def rule(self) -> str:
        scope = self.channel or "total"
        name = next(
            (k for k, v in WINDOWS.items() if v == self.window),
            f"{int(self.window.total_seconds())}s",
        )
        return f"cap.{scope}.{name}"


@dataclass(frozen=True, slots=True)
class CapPolicy:
    caps: tuple[Cap, ...] = ()
    min_gap: timedelta | None = None
    exempt_purposes: frozenset[str] = frozenset()
    # What to do with a message over a cap: wait until the window frees (never bursting to catch
    # up), or drop it (a missed reminder is not re-sent later).
    action: str = "defer"


def lookback(policies: Iterable[CapPolicy]) -> timedelta:
    """How far back a debtor's history must be read to decide every cap of these policies."""
    spans = [cap.window for policy in policies for cap in policy.caps]
    spans += [policy.min_gap for policy in policies if policy.min_gap is not None]
    return max(spans, default=timedelta(0))


def check(
    channel: str,
    purpose: str,
    history: Sequence[Touch],
    now: datetime,
    policy: CapPolicy,
    preset: str = "",
) -> Decision | None:
    """None if this touch fits every cap; else DEFER until the earliest instant it would fit
    (or SUPPRESS when the preset drops over-cap messages, or when a cap allows none at all)."""
    if purpose in policy.exempt_purposes:
        return None
    # No age cut-off here: each cap counts over its own window, which may be longer than 30 days
    # (a calendar month, letters 45 days apart).
    touches = [t for t in history if t.purpose not in policy.exempt_purposes]
    frees: list[tuple[datetime, str, str]] = []
    for cap in policy.caps:
        if cap.channel is not None and cap.channel != channel:
            continue
        if cap.max == 0:  # this channel is closed: no wait would ever let the touch through
            return Decision(Verdict.SUPPRESS, rule=cap.rule, reason="none allowed", preset=preset)
        counted = sorted(
            t.at
            for t in touches
            if (cap.channel is None or t.channel == cap.channel) and now - t.at < cap.window
        )
        if len(counted) >= cap.max:
            # The window frees when enough of the oldest touches have aged out of it.
            frees.append(
                (
                    counted[len(counted) - cap.max] + cap.window,
                    cap.rule,
                    f"{len(counted)} of {cap.max} in {cap.rule.rsplit('.', 1)[1]}",
                )
            )
    if policy.min_gap is not None and touches:
        last = max(t.at for t in touches)
        if now - last < policy.min_gap:
            frees.append(
                (
                    last + policy.min_gap,
                    "cap.min_gap",
                    f"last touch {int((now - last).total_seconds() // 60)} min ago",
                )
            )
    if not frees:
        return None
    until, rule, reason = max(frees)
    if policy.action == "suppress":
        return Decision(Verdict.SUPPRESS, rule=rule, reason=reason, preset=preset)
    return Decision(Verdict.DEFER, rule=rule, reason=reason, until=until, preset=preset)
