"""From a preset (data) to the parameters the pure rules take."""

from __future__ import annotations

from datetime import timedelta

from scheduler.caps import WINDOWS, Cap, CapPolicy
from scheduler.presets import Preset

# A calendar month is counted as the last 31 days: never fewer touches than the calendar rule.
_WINDOW = {**WINDOWS, "calendar_month": timedelta(days=31)}


def cap_policy(preset: Preset) -> CapPolicy:
    caps: list[Cap] = []
    for channel in ("sms", "email", "total"):
        for cap in preset.caps_for(channel):
            caps.append(
                Cap(cap.max, _WINDOW[cap.window], None if channel == "total" else channel, cap.tag)
            )
    letters = preset.letters.min_interval_days.value
    if letters > 0:
        caps.append(Cap(1, timedelta(days=letters), "letter", preset.letters.min_interval_days.tag))
    gap = preset.min_gap_minutes.value
    return CapPolicy(
        caps=tuple(caps),
        min_gap=timedelta(minutes=gap) if gap > 0 else None,
        exempt_purposes=frozenset(preset.exempt_from_caps.value),
        action=preset.on_cap.value,
    )
