"""Personal restrictions (compliance §6.1 step 5): what the debtor asked for narrows the preset.

A debtor who says "not before noon", "not at weekends" or "email me instead" must be heeded (US
12 CFR 1006.6(b)(1), UK CONC 7.9.4R). Hours apply in every candidate zone, as the preset's own
window does; they only ever narrow it. Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from scheduler.decisions import (
    IMMEDIATE_ANSWERS,
    WINDOWED,
    Decision,
    MessageFacts,
    Restrictions,
    Verdict,
    nowhere,
)
from scheduler.presets import DAYS, DayWindow, Preset, Windows
from scheduler.windows import next_allowed


def restrictions_of(data: dict[str, Any] | None) -> Restrictions | None:
    """From the stored form (`{"hours": {"start", "end"}, "days": [...], "channels": [...]}`)."""
    if not data:
        return None
    hours = data.get("hours")
    days = data.get("days")
    channels = data.get("channels")
    return Restrictions(
        hours=(_clock(hours["start"]), _clock(hours["end"])) if hours else None,
        days=frozenset(DAYS.index(d) for d in days) if days else None,
        channels=frozenset(channels) if channels else None,
    )


def check(
    message: MessageFacts,
    restrictions: Restrictions | None,
    zones: list[str],
    now: datetime,
    preset: Preset,
) -> Decision | None:
    """None, or the restriction that blocks this message now. Answers the debtor asked for by
    writing to us (confirmations, HELP, the acknowledgement) are not held back."""
    if restrictions is None or message.purpose in IMMEDIATE_ANSWERS:
        return None
    r = restrictions
    if r.channels is not None and message.channel not in r.channels:
        return Decision(
            Verdict.SUPPRESS,
            rule="personal.channel",
            reason=f"the debtor asked to be contacted only by {', '.join(sorted(r.channels))}",
        )
    if message.channel not in WINDOWED or (r.hours is None and r.days is None):
        return None
    mine = narrowed(preset, r)
    any_day = any(mine.window(message.channel, day) for day in range(7))
    nxt = next_allowed(zones, message.channel, mine, now) if any_day else None
    asked = _describe(r)
    if nxt is None:
        return nowhere(
            preset.on_empty_intersection,
            "personal.hours",
            f"the debtor's hours ({asked}) never meet the contact window",
        )
    if nxt > now:
        return Decision(
            Verdict.DEFER,
            rule="personal.hours",
            until=nxt,
            reason=f"outside the hours the debtor asked for ({asked})",
        )
    return None


_NARROWED: dict[tuple[int, Restrictions], tuple[Preset, Preset]] = {}


def narrowed(preset: Preset, r: Restrictions) -> Preset:
    """The preset with its electronic windows cut to the debtor's hours and days. Memoized, so
    the windows' own per-hour memo (keyed by the preset's identity) keeps working."""
    key = (id(preset), r)
    cached = _NARROWED.get(key)
    if cached is None or cached[0] is not preset:
        if len(_NARROWED) > 4096:
            _NARROWED.clear()
        w = preset.windows
        windows = Windows.model_construct(
            sms=_cut(w.sms, r), email=_cut(w.email, r), call=_cut(w.call, r)
        )
        cached = _NARROWED[key] = (preset, preset.model_copy(update={"windows": windows}))
    return cached[1]


def _cut(rules: list[DayWindow], r: Restrictions) -> list[DayWindow]:
    out = []
    for rule in rules:
        days = [d for d in rule.days if r.days is None or DAYS.index(d) in r.days]
        start, end = rule.start, rule.end
        if r.hours is not None:
            start, end = max(start, r.hours[0]), min(end, r.hours[1])
        if days and start < end:
            out.append(DayWindow.model_construct(days=days, start=start, end=end, tag=rule.tag))
    return out


def _clock(text: str) -> time:
    return time.max if text == "24:00" else time.fromisoformat(text)


def _describe(r: Restrictions) -> str:
    parts = []
    if r.hours is not None:
        end = "24:00" if r.hours[1] == time.max else r.hours[1].strftime("%H:%M")
        parts.append(f"{r.hours[0].strftime('%H:%M')}–{end}")
    if r.days is not None:
        parts.append(", ".join(DAYS[d] for d in sorted(r.days)))
    return "; ".join(parts)
