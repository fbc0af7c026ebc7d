"""Allowed send intervals for a set of candidate zones (compliance.md §6.4 steps 4–6).

Each zone's local window for each local date (weekday rule, holidays per the preset's
`holiday_mode`, CN make-up working days) becomes a UTC interval; the intervals are intersected
over all zones and the safety margin is cut from each interval's end. Pure: the caller passes
`now`, and every instant in or out is an aware datetime (out: UTC).

DST: a local start or end that does not exist (spring forward) or exists twice (fall back) is
resolved to whichever reading gives the *shorter* window: the later instant for a start, the
earlier one for an end. Both readings come from zoneinfo's `fold`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from scheduler.presets import DayWindow, Preset
from scheduler.zones import zone_country

Interval = tuple[datetime, datetime]

_MONDAY, _SUNDAY = 0, 6


@dataclass(frozen=True, slots=True)
class DayCalendar:
    """Blocked dates and make-up working days (调休) of one zone under one preset."""

    holidays: frozenset[date]
    workdays: frozenset[date]


def allowed_intervals(
    zones: Sequence[str], channel: str, preset: Preset, start_utc: datetime, days: int = 7
) -> list[Interval]:
    """Sorted, disjoint UTC intervals in [start_utc, start_utc + days) allowed in every zone.

    Each interval already ends `preset.safety_margin` before the window's end. An empty list
    means the zones share no window: REROUTE or REVIEW per `preset.on_empty_intersection`.
    """
    if not zones:
        raise ValueError("at least one zone is required (use the preset's fallback zones)")
    if not any(preset.window(channel, day) for day in range(7)):
        raise ValueError(f"preset {preset.name} has no time window for channel {channel!r}")
    start = _utc(start_utc)
    end = start + timedelta(days=days)
    # One extra day so an interval crossing the horizon keeps its real end for the margin cut.
    result: list[Interval] | None = None
    for zone in dict.fromkeys(zones):
        spans = zone_intervals(zone, channel, preset, start, end + timedelta(days=1))
        result = spans if result is None else _intersect(result, spans)
    margin = preset.safety_margin
    return [
        (max(s, start), min(e - margin, end))
        for s, e in result or []
        if min(e - margin, end) > max(s, start)
    ]


def next_allowed(
    zones: Sequence[str], channel: str, preset: Preset, now: datetime, days: int = 7
) -> datetime | None:
    """`now` (in UTC) if it may be sent now, else the next allowed instant within `days`.

    None means no allowed instant in the horizon: the caller applies
    `preset.on_empty_intersection` (and drops steps that would miss more than
    `preset.max_defer` of open window, see `scheduler.deferral`).
    """
    now = _utc(now)
    horizon = now + timedelta(days=days)
    for start, end in _spans(zones, channel, preset, now, days):
        if end > now:
            # The hour's cached spans reach a little further than `days`; the answer must not.
            return max(start, now) if start < horizon else None
    return None


def send_by(zones: Sequence[str], channel: str, preset: Preset, now: datetime) -> datetime | None:
    """When the allowed interval holding `now` ends (its safety margin already cut), or None if
    `now` is not allowed: a message allowed now must be handed over before then."""
    now = _utc(now)
    for start, end in _spans(zones, channel, preset, now, 7):
        if start <= now < end:
            return end
    return None


def open_time(
    zones: Sequence[str],
    channel: str,
    preset: Preset,
    start: datetime,
    end: datetime,
    enough: timedelta,
) -> timedelta:
    """How long [start, end) lies inside the allowed intervals (safety margin cut), counted a
    week at a time and only until it passes `enough`: the caller asks whether a wait missed
    more window than that, and a wait through a long closure costs a few days of windows."""
    at, end = _utc(start), _utc(end)
    total = timedelta(0)
    while at < end and total <= enough:
        upto = min(end, at + _WEEK)
        # A message due this hour finds its week in the decisions' memo; the waits of messages
        # due in the same past hour share theirs in a memo of their own, so that past hours
        # never push the current hour's windows out of the decisions' one.
        week = _cached(zones, channel, preset, at, 7)
        for s, e in week if week is not None else _spans(zones, channel, preset, at, 7, _OPEN):
            if s >= upto:
                break
            if e > at:
                total += min(e, upto) - max(s, at)
        at = upto
    return total


Memo = dict[tuple[object, ...], tuple[Preset, tuple[Interval, ...]]]
_SPANS: Memo = {}
_OPEN: Memo = {}
_SPANS_MAX = 4096
_WEEK = timedelta(days=7)


def _cached(
    zones: Sequence[str], channel: str, preset: Preset, now: datetime, days: int
) -> tuple[Interval, ...] | None:
    """The decisions' memo entry `_spans` would answer, or None; never computes or evicts."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    cached = _SPANS.get((tuple(sorted(zones)), channel, id(preset), hour, days))
    return cached[1] if cached is not None and cached[0] is preset else None


def _spans(
    zones: Sequence[str],
    channel: str,
    preset: Preset,
    now: datetime,
    days: int,
    memo: Memo | None = None,
) -> tuple[Interval, ...]:
    memo = _SPANS if memo is None else memo
    hour = now.replace(minute=0, second=0, microsecond=0)
    # Intervals are computed once per (zones, channel, preset, hour) and reused for every message
    # of that hour: from the hour's start they cover `days` + 1 days, so any `now` within the
    # hour still sees at least `days` ahead.
    key = (tuple(sorted(zones)), channel, id(preset), hour, days)
    cached = memo.get(key)
    # The entry holds the preset itself, so its id cannot be reused by another preset meanwhile.
    if cached is None or cached[0] is not preset:
        if len(memo) >= _SPANS_MAX:
            # Entries of other hours go first: clearing everything would also drop this hour's,
            # which the rest of the hour's messages are about to ask for again.
            for stale in [k for k in memo if k[3] != hour]:
                del memo[stale]
            if len(memo) >= _SPANS_MAX:
                memo.clear()
        cached = memo[key] = (
            preset,
            tuple(allowed_intervals(zones, channel, preset, hour, days + 1)),
        )
    return cached[1]


def local_window(zone: str, day: date, channel: str, preset: Preset) -> DayWindow | None:
    """The window that applies on a local date in a zone, or None if the date is blocked."""
    calendar = day_calendar(zone, preset, day.year)
    weekday = day.weekday()
    if day in calendar.workdays:
        weekday = _MONDAY  # 调休: a weekend make-up working day follows the weekday rule
    if day in calendar.holidays:
        mode = preset.holidays.mode.value
        if mode == "block":
            return None
        if mode == "use_weekend_window":
            weekday = _SUNDAY
    return preset.window(channel, weekday)


def zone_intervals(
    zone: str, channel: str, preset: Preset, start_utc: datetime, end_utc: datetime
) -> list[Interval]:
    """One zone's UTC window intervals overlapping [start_utc, end_utc), unclipped."""
    tz = ZoneInfo(zone)
    first = start_utc.astimezone(tz).date() - timedelta(days=1)
    last = end_utc.astimezone(tz).date() + timedelta(days=1)
    spans: list[Interval] = []
    day = first
    while day <= last:
        rule = local_window(zone, day, channel, preset)
        if rule is not None:
            s = _to_utc(day, rule.start, tz, later=True)
            if rule.end == time.max:  # "24:00": up to the next local midnight
                e = _to_utc(day + timedelta(days=1), time(0), tz, later=False)
            else:
                e = _to_utc(day, rule.end, tz, later=False)
            if s < e and e > start_utc and s < end_utc:
                spans.append((s, e))
        day += timedelta(days=1)
    return spans


def day_calendar(zone: str, preset: Preset, year: int) -> DayCalendar:
    """Holidays and make-up working days the preset applies to a zone's local dates."""
    rule = preset.holidays
    home = rule.calendar
    country = zone_country(zone)
    countries: tuple[str, ...]
    if home.country and (rule.foreign_zones.value == "home" or country == home.country):
        countries, subdivs, only = (home.country,), tuple(home.subdivisions), tuple(home.only)
    elif country and country in holidays.list_supported_countries():
        countries, subdivs, only = (country,), (), ()
    else:
        unmapped = rule.unmapped_countries.value if rule.unmapped_countries else []
        countries, subdivs, only = tuple(unmapped), (), ()
    return _calendar(countries, subdivs, only, rule.makeup_workdays.value, year)


def warm(presets: Iterable[Preset], year: int) -> None:
    """Build the presets' home calendars for `year` and the next one ahead of the first message.

    The first lookup imports the holidays package's country modules (about half a second of CPU),
    which a worker would otherwise spend inside its first batch, holding its claims."""
    holidays.list_supported_countries()
    for preset in presets:
        rule, home = preset.holidays, preset.holidays.calendar
        if home.country:
            for y in (year, year + 1):
                _calendar(
                    (home.country,),
                    tuple(home.subdivisions),
                    tuple(home.only),
                    rule.makeup_workdays.value,
                    y,
                )


@cache
def _calendar(
    countries: tuple[str, ...],
    subdivs: tuple[str, ...],
    only: tuple[str, ...],
    makeup: bool,
    year: int,
) -> DayCalendar:
    blocked: set[date] = set()
    workdays: set[date] = set()
    for country in countries:
        for subdiv in subdivs or (None,):
            # en_US so the Spring Festival selectors can read holiday names.
            cal = holidays.country_holidays(country, subdiv=subdiv, years=year, language="en_US")
            blocked |= _select(cal, only) if only else set(cal)
            if makeup:
                workdays |= {d for d in getattr(cal, "weekend_workdays", ()) if d.year == year}
    return DayCalendar(frozenset(blocked), frozenset(workdays))


def _select(cal: holidays.HolidayBase, only: Iterable[str]) -> set[date]:
    # 春节 day 1 is the first "Spring Festival" date; 除夕 is the day before it, which also
    # covers years before 2025 when 除夕 was not itself a public holiday.
    festival = sorted(d for d, name in cal.items() if "Spring Festival" in name)
    if not festival:
        return set()
    chosen = {
        "spring_festival_day_1": festival[0],
        "spring_festival_eve": festival[0] - timedelta(days=1),
    }
    return {chosen[key] for key in only}


def _to_utc(day: date, clock: time, tz: ZoneInfo, *, later: bool) -> datetime:
    readings = [
        datetime.combine(day, clock, tzinfo=tz).replace(fold=fold).astimezone(UTC)
        for fold in (0, 1)
    ]
    return max(readings) if later else min(readings)


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware instant")
    return moment.astimezone(UTC)
