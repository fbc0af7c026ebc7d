"""Property tests of the contact policy (issue 4; compliance.md §6.4, §6.5) against oracles written
from the presets' data and the spec, not from the code under test.

Windows: the oracle decides whether one instant may be used, zone by zone, from the preset's
weekday rules, the `holidays` package, make-up working days (调休) and `holiday_mode`; a local
start or end that a DST change skips or repeats takes the reading that shortens the window, as
windows.py documents. Allowedness can only change at a window's start or at its end less the
safety margin, so agreeing with the oracle at those instants and at the code's own interval ends
proves the two sets of instants equal, not merely close.

Maximum deferral: a deferral expires exactly when the open window it makes the message miss —
the oracle's allowed instants between when it was due and its `until` — exceeds
`max_defer_hours`; a message with no window (a letter) misses every hour.

Caps: an attempt fits when no cap's rolling window is full (counted on attempts, exempt purposes
neither capped nor counted) and the minimum gap has passed; a deferral must name the earliest
instant that fits. The dispatcher property replays messages through decide() then caps.check(),
as gateway/services/dispatch.py does, and checks what was released.
"""

from __future__ import annotations

import heapq
import re
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from scheduler.caps import check
from scheduler.decisions import Decision, Touch, Verdict
from scheduler.policy import CaseFacts, ContactFacts, MessageFacts, bounded, decide
from scheduler.policy_config import cap_policy
from scheduler.presets import DAYS, Preset, load_presets
from scheduler.windows import allowed_intervals, next_allowed
from scheduler.zones import candidate_zones, phone_zones, postal_zones

ET, CT, MT, PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
PHX, ANC, HON = "America/Phoenix", "America/Anchorage", "Pacific/Honolulu"
WEEK = list(DAYS)
SECOND = timedelta(seconds=1)

# --- presets: the built-ins and operator variants that stress holidays, midnight and DST -------


def _rule(days: list[str], start: str, end: str) -> dict[str, Any]:
    return {"days": days, "start": start, "end": end, "tag": "P"}


def _both(rule: dict[str, Any]) -> dict[str, Any]:
    return {"sms": [rule], "email": [rule]}


def _cap(most: int, window: str) -> dict[str, Any]:
    return {"max": most, "window": window, "scope": "per_debtor", "count": "sent", "tag": "P"}


VARIANTS: dict[str, dict[str, Any]] = {
    "US-holiday-sunday-window": {
        "base": "US-RegF",
        "holidays": {"mode": {"value": "use_weekend_window", "tag": "P"}},
    },
    "US-stated-overrides": {
        "base": "US-RegF",
        "tz": {"mode": {"value": "consumer_stated_overrides", "tag": "P"}},
    },
    "UK-holidays-allowed": {"base": "UK-FCA", "holidays": {"mode": {"value": "allow", "tag": "P"}}},
    "CN-workdays": {"base": "CN", "windows": _both(_rule(WEEK[:5], "09:00", "18:00"))},
    "ALL-DAY": {  # midnight to midnight: zones that change clocks at midnight (Chile, Cuba)
        "base": "CN",
        "windows": _both(_rule(WEEK, "00:00", "24:00")),
        "safety_margin_min": {"value": 0, "tag": "P"},
    },
    "DST-START": {"base": "US-RegF", "windows": _both(_rule(WEEK, "02:30", "21:00"))},
    "DST-END": {"base": "EU", "windows": _both(_rule(WEEK, "00:00", "02:30"))},
    # The IE overlay of §6.3 (≤3 per calendar month) and letters further apart than 30 days.
    "IE-overlay": {
        "base": "EU",
        "caps": {
            "total": [_cap(1, "rolling_24h"), _cap(8, "rolling_30d"), _cap(3, "calendar_month")]
        },
        "letters": {"min_interval_days": {"value": 45, "tag": "P"}},
    },
    "UK-no-sms": {"base": "UK-FCA", "caps": {"sms": [_cap(0, "rolling_24h")]}},
}


def _load() -> dict[str, Preset]:
    with tempfile.TemporaryDirectory() as tmp:
        for name, body in VARIANTS.items():
            text = yaml.safe_dump({"name": name, **body})
            (Path(tmp) / f"{name}.yaml").write_text(text, encoding="utf-8")
        return load_presets(Path(tmp))


PRESETS = _load()
NAMES = sorted(PRESETS)

# --- the window oracle ---------------------------------------------------------------------------


def _zone_tab() -> dict[str, str]:
    text = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and line[0] != "#"]
    return {row[2]: row[0] for row in rows}


# Old zone names phonenumbers still answers with, and the zone each now links to (tz `backward`).
OLD_NAMES = {
    "Africa/Asmera": "Africa/Asmara",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Godthab": "America/Nuuk",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Choibalsan": "Asia/Ulaanbaatar",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "Pacific/Enderbury": "Pacific/Kanton",
    "Pacific/Ponape": "Pacific/Pohnpei",
    "Pacific/Truk": "Pacific/Chuuk",
}
ZONE_COUNTRY = _zone_tab()
COUNTRY_ZONES: dict[str, set[str]] = {}
for _zone, _country in ZONE_COUNTRY.items():
    COUNTRY_ZONES.setdefault(_country, set()).add(_zone)
# China has one legal time, Beijing's; zone.tab also lists Xinjiang's unofficial Asia/Urumqi.
COUNTRY_ZONES["CN"] = {"Asia/Shanghai"}
ZONE_COUNTRY |= {old: ZONE_COUNTRY[new] for old, new in OLD_NAMES.items()}
SUPPORTED = set(holidays.list_supported_countries())
# 春节 day 1 (Chinese lunar new year) by year, from the calendar rather than from `holidays`.
SPRING_FESTIVAL = {
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
}


@cache
def _public(country: str, subdiv: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdiv, years=year)


def _day_kind(zone: str, day: date, preset: Preset) -> tuple[bool, bool]:
    """(is a blocked holiday, is a make-up working day) on a zone's local date."""
    rule, home = preset.holidays, preset.holidays.calendar
    country = ZONE_COUNTRY.get(zone)
    only: list[str] = []
    if home.country and (rule.foreign_zones.value == "home" or country == home.country):
        calendars = [(home.country, sub) for sub in home.subdivisions or [None]]
        only = list(home.only)
    elif country in SUPPORTED:
        calendars = [(country, None)]
    else:
        unmapped = rule.unmapped_countries.value if rule.unmapped_countries else []
        calendars = [(c, None) for c in unmapped]
    if only:
        first = SPRING_FESTIVAL[day.year]
        named = {"spring_festival_day_1": first, "spring_festival_eve": first - timedelta(days=1)}
        holiday = day in {named[key] for key in only}
    else:
        holiday = any(day in _public(c, sub, day.year) for c, sub in calendars)
    makeup = rule.makeup_workdays.value and any(
        day in getattr(_public(c, sub, day.year), "weekend_workdays", ()) for c, sub in calendars
    )
    return holiday, makeup


def _readings(day: date, wall: time, tz: ZoneInfo) -> list[datetime]:
    """The UTC instants that read `day wall` in tz; in a DST gap, both offsets' readings."""
    naive = datetime.combine(day, wall)
    as_utc = naive.replace(tzinfo=UTC)
    offsets = {(as_utc + timedelta(hours=h)).astimezone(tz).utcoffset() for h in range(-36, 37, 6)}
    readings = [as_utc - off for off in offsets if off is not None]
    exact = [r for r in readings if r.astimezone(tz).replace(tzinfo=None, fold=0) == naive]
    return exact or readings


@cache
def _span(zone: str, day: date, channel: str, name: str) -> tuple[datetime, datetime] | None:
    """The UTC window [start, end) of a zone's local date, None when that date is blocked."""
    preset = PRESETS[name]
    holiday, makeup = _day_kind(zone, day, preset)
    weekday = 0 if makeup else day.weekday()  # the preset's rule: 调休 days take Monday's window
    if holiday and preset.holidays.mode.value == "block":
        return None
    if holiday and preset.holidays.mode.value == "use_weekend_window":
        weekday = 6
    rules = getattr(preset.windows, channel)
    rule = next((r for r in rules if DAYS[weekday] in r.days), None)
    if rule is None:
        return None
    tz = ZoneInfo(zone)
    start = max(_readings(day, rule.start, tz))
    if rule.end == time.max:  # "24:00"
        end = min(_readings(day + timedelta(days=1), time(0), tz))
    else:
        end = min(_readings(day, rule.end, tz))
    return (start, end) if start < end else None


def allowed(moment: datetime, zones: list[str], channel: str, preset: Preset) -> bool:
    """Inside every zone's window for its local date, at least the safety margin before its end."""
    margin = timedelta(minutes=preset.safety_margin_min.value)
    for zone in zones:
        span = _span(zone, moment.astimezone(ZoneInfo(zone)).date(), channel, preset.name)
        if span is None or not span[0] <= moment < span[1] - margin:
            return False
    return True


def edges(
    zones: list[str], channel: str, preset: Preset, start: datetime, end: datetime
) -> set[datetime]:
    """`start` and every instant in [start, end) where allowedness may change."""
    margin = timedelta(minutes=preset.safety_margin_min.value)
    out = {start}
    for zone in zones:
        tz = ZoneInfo(zone)
        day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
        for n in range(-1, (last - day).days + 2):
            span = _span(zone, day + timedelta(days=n), channel, preset.name)
            if span is not None:
                out |= {span[0], span[1] - margin}
    return {moment for moment in out if start <= moment < end}


def missed(
    zones: list[str], channel: str, purpose: str, preset: Preset, start: datetime, end: datetime
) -> timedelta:
    """The time in [start, end) a message could have gone in: allowedness is constant between
    consecutive edges, so each stretch counts whole or not at all. Letters and the answers that
    ignore the window (ANSWERS) could have gone at any time."""
    if channel not in ("sms", "email") or purpose in ANSWERS:
        return end - start
    points = [*sorted(edges(zones, channel, preset, start, end)), end]
    return sum(
        (
            b - a
            for a, b in zip(points, points[1:], strict=False)
            if allowed(a, zones, channel, preset)
        ),
        timedelta(0),
    )


# --- strategies: debtors, presets, instants ------------------------------------------------------


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


EXAMPLES = sorted(
    {
        _e164(sample)
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE)
        if (sample := phonenumbers.example_number_for_type(region, kind)) is not None
    }
)
FOCUS = ["US", "CA", "GB", "IE", "CN", "DE", "FR", "ES", "AU", "CL", "NZ", "IN", "BR", "DZ", "NI"]
FOCUS_EXAMPLES = [
    _e164(sample)
    for region in FOCUS
    for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE)
    if (sample := phonenumbers.example_number_for_type(region, kind)) is not None
]
# NANP area codes across every US zone, with a zone each area certainly observes.
AREA_CODES = {
    "212": ET, "305": ET, "404": ET, "617": ET, "312": CT, "615": CT, "713": CT, "303": MT,
    "505": MT, "801": MT, "915": MT, "602": PHX, "928": PHX, "213": PT, "206": PT, "702": PT,
    "907": ANC, "808": HON, "787": "America/Puerto_Rico", "671": "Pacific/Guam",
    "850": None, "423": None, "605": None, "701": None, "208": None, "775": None,
}  # fmt: skip
nanp = st.builds(
    lambda area, line: f"+1{area}555{line:04d}",
    st.sampled_from(sorted(AREA_CODES)),
    st.integers(100, 199),  # 555-01xx: the numbers reserved for fiction
)
phones = st.one_of(
    nanp, st.sampled_from(FOCUS_EXAMPLES), st.sampled_from(EXAMPLES), st.just("not a number")
)
# A state → zones its residents certainly use (split states list every zone in use).
STATE_ZONES = {
    "NY": {ET}, "GA": {ET}, "MA": {ET}, "IL": {CT}, "MN": {CT}, "CO": {MT}, "UT": {MT},
    "AZ": {PHX}, "CA": {PT}, "WA": {PT}, "NV": {PT}, "HI": {HON}, "AK": {ANC},
    "TX": {CT, MT}, "FL": {ET, CT}, "TN": {ET, CT}, "KY": {ET, CT}, "ND": {CT, MT},
    "NE": {CT, MT}, "KS": {CT, MT}, "SD": {CT, MT}, "OR": {PT, "America/Boise"},
    "ID": {PT, "America/Boise"}, "IN": {"America/Indiana/Indianapolis", CT},
    "MI": {"America/Detroit", "America/Menominee"}, "PR": {"America/Puerto_Rico"},
}  # fmt: skip
us_address = st.sampled_from(sorted(STATE_ZONES)).flatmap(
    lambda state: st.sampled_from(
        [
            {"country": "US", "region": state},
            {"country": "US", "line": f"Springfield, {state} 62701"},
            {"country": "US", "line": f"Anytown, {state} 12345-6789"},
        ]
    )
)
COUNTRIES = ["US", "GB", "IE", "CN", "DE", "FR", "ES", "PT", "FI", "AU", "CL", "NZ", "IN", "BR"]
addresses = st.one_of(
    st.none(), us_address, st.sampled_from(COUNTRIES).map(lambda c: {"country": c})
)
STATED = [ET, PT, HON, ANC, PHX, "Europe/London", "Europe/Dublin", "Europe/Berlin"]
STATED += ["Asia/Shanghai", "Asia/Kolkata", "Asia/Calcutta", "Australia/Sydney", "UTC"]
STATED += ["Australia/Lord_Howe", "America/Santiago", "Pacific/Auckland", "America/Havana"]
debtors = st.tuples(
    st.one_of(st.none(), st.sampled_from(STATED)),
    addresses,
    st.lists(phones, max_size=3),
)
window_presets = st.sampled_from([n for n in NAMES if n not in ("IE-overlay", "UK-no-sms")])

START, STOP = datetime(2025, 1, 1, tzinfo=UTC), datetime(2028, 12, 1, tzinfo=UTC)
DST_ZONES = [ET, CT, MT, PT, ANC, "Europe/London", "Europe/Berlin", "Australia/Sydney"]
DST_ZONES += ["Australia/Lord_Howe", "America/Santiago", "Pacific/Auckland", "America/Havana"]


def _transitions(zone: str) -> list[datetime]:
    """Every UTC offset change of a zone in [START, STOP), to the second."""
    tz, out, day = ZoneInfo(zone), [], START
    while day < STOP:
        nxt = day + timedelta(days=1)
        before = day.astimezone(tz).utcoffset()
        if nxt.astimezone(tz).utcoffset() != before:
            lo, hi = 0, 86400  # seconds after `day`: lo has the old offset, hi the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                old = (day + timedelta(seconds=mid)).astimezone(tz).utcoffset() == before
                lo, hi = (mid, hi) if old else (lo, mid)
            out.append(day + timedelta(seconds=hi))
        day = nxt
    return out


# (zone, instant) of every clock change, and of the local midnight starting every public holiday
# and make-up working day: the moments where a zone's rules matter most.
TRANSITIONS = sorted({(zone, moment) for zone in DST_ZONES for moment in _transitions(zone)})


def _holiday_midnights() -> list[tuple[str, datetime]]:
    days: set[tuple[str, date]] = set()
    for year in range(2025, 2029):
        days |= {(zone, d) for zone in (ET, HON) for d in _public("US", None, year)}
        for sub in ("ENG", "SCT", "NIR"):
            days |= {("Europe/London", d) for d in _public("GB", sub, year)}
        sf = SPRING_FESTIVAL[year]
        extra = {sf, sf - timedelta(days=1), *_public("CN", None, year).weekend_workdays}
        days |= {("Asia/Shanghai", d) for d in extra if d.year == year}
        days |= {("Europe/Berlin", d) for d in _public("DE", None, year)}
        days |= {("Asia/Kolkata", d) for d in _public("IN", None, year)}
        days |= {("America/Santiago", d) for d in _public("CL", None, year)}
    return sorted(
        (zone, datetime.combine(d, time(), tzinfo=ZoneInfo(zone)).astimezone(UTC))
        for zone, d in days
    )


HOLIDAYS = _holiday_midnights()
EDGE_TIMES = [time(h, m) for h, m in [(0, 0), (2, 30), (8, 0), (9, 0), (11, 0), (12, 0)]]
EDGE_TIMES += [time(h, m) for h, m in [(14, 0), (17, 0), (18, 0), (20, 0), (20, 45), (21, 0)]]
EDGE_ZONES = [*DST_ZONES, "Asia/Shanghai", "Asia/Kolkata", HON, PHX, "Pacific/Kiritimati"]
near = st.one_of(st.integers(-120, 120), st.integers(-6 * 3600, 6 * 3600))


def _around(events: list[tuple[str, datetime]], spread: int) -> st.SearchStrategy[datetime]:
    return st.builds(
        lambda event, seconds: event[1] + timedelta(seconds=seconds),
        st.sampled_from(events),
        st.one_of(near, st.integers(-spread, spread)),
    )


window_edges = st.builds(
    lambda zone, day, wall, seconds: (
        datetime.combine(day, wall, tzinfo=ZoneInfo(zone)).astimezone(UTC)
        + timedelta(seconds=seconds)
    ),
    st.sampled_from(EDGE_ZONES),
    st.dates(START.date(), STOP.date()),
    st.sampled_from(EDGE_TIMES),
    near,
)
instants = st.one_of(
    st.datetimes(START.replace(tzinfo=None), STOP.replace(tzinfo=None), timezones=st.just(UTC)),
    _around(TRANSITIONS, 2 * 86400),
    _around(HOLIDAYS, 36 * 3600),
    window_edges,
)

# --- candidate zones ------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(debtor=debtors, name=window_presets)
def test_candidate_zones_cover_every_source(
    debtor: tuple[str | None, dict[str, str] | None, list[str]], name: str
) -> None:
    stated, postal, numbers = debtor
    preset = PRESETS[name]
    zones = candidate_zones(stated, postal, numbers, preset)
    assert len(set(zones)) == len(zones) and all(ZoneInfo(zone) for zone in zones)
    if stated is not None and preset.tz.mode.value == "consumer_stated_overrides":
        assert zones == [stated]
        return
    if stated is not None:
        assert stated in zones
    if postal is not None:
        state = postal.get("region") or "".join(
            re.findall(r", ([A-Z]{2}) \d", postal.get("line", ""))
        )
        if postal["country"] == "US" and state in STATE_ZONES:
            assert STATE_ZONES[state] <= set(zones), state
        else:
            assert COUNTRY_ZONES[postal["country"]] <= set(zones)
    countries = {ZONE_COUNTRY.get(zone) for zone in zones}
    for number in numbers:
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            continue
        region = phonenumbers.region_code_for_number(parsed)
        # The debtor may be anywhere their number's country is: one of its zones must count.
        if region in COUNTRY_ZONES and phonenumbers.is_valid_number(parsed):
            assert region in countries, (number, zones)
        if number.startswith("+1") and (expected := AREA_CODES.get(number[2:5])):
            assert expected in zones, (number, zones)
    sources = {stated} if stated else set()
    sources |= set(postal_zones(postal)) if postal else set()
    sources |= {zone for number in numbers for zone in phone_zones(number)}
    assert zones == (sorted(sources) if sources else preset.fallback_zones)


# --- windows --------------------------------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(
    debtor=debtors,
    name=window_presets,
    channel=st.sampled_from(["sms", "email"]),
    now=instants,
)
def test_next_allowed_is_the_first_instant_inside_every_zone_window(
    debtor: tuple[str | None, dict[str, str] | None, list[str]],
    name: str,
    channel: str,
    now: datetime,
) -> None:
    preset = PRESETS[name]
    zones = candidate_zones(*debtor, preset)
    first = next_allowed(zones, channel, preset, now)
    week = now + timedelta(days=7)
    if first is None:
        assert not any(
            allowed(m, zones, channel, preset) for m in edges(zones, channel, preset, now, week)
        )
        return
    assert now <= first < now + timedelta(days=8, hours=1)
    assert allowed(first, zones, channel, preset), (zones, first)
    # Nothing earlier: allowedness only changes at these instants, so this covers [now, first).
    earlier = edges(zones, channel, preset, now, first)
    assert not any(allowed(m, zones, channel, preset) for m in earlier), (zones, first)


def assert_intervals_match_oracle(
    zones: list[str], channel: str, preset: Preset, start: datetime, days: int
) -> list[tuple[datetime, datetime]]:
    """allowed_intervals() holds exactly the instants the oracle allows; returns them."""
    end = start + timedelta(days=days)
    spans = allowed_intervals(zones, channel, preset, start, days)
    for (s, e), later in zip(spans, spans[1:], strict=False):
        assert s < e <= later[0]
    # Both sets are unions of half-open intervals whose ends are all in `points`: agreeing at
    # every point means agreeing everywhere.
    points = edges(zones, channel, preset, start, end) | {t for span in spans for t in span}
    for moment in sorted(p for p in points if start <= p < end):
        inside = any(s <= moment < e for s, e in spans)
        assert inside == allowed(moment, zones, channel, preset), (zones, moment, inside)
    return spans


@settings(max_examples=600, deadline=None)
@given(
    debtor=debtors,
    name=window_presets,
    channel=st.sampled_from(["sms", "email"]),
    start=instants,
    days=st.integers(1, 7),
)
def test_allowed_intervals_are_exactly_the_instants_inside_every_zone_window(
    debtor: tuple[str | None, dict[str, str] | None, list[str]],
    name: str,
    channel: str,
    start: datetime,
    days: int,
) -> None:
    preset = PRESETS[name]
    assert_intervals_match_oracle(candidate_zones(*debtor, preset), channel, preset, start, days)


HOME_HOLIDAYS = {
    country: [event for event in HOLIDAYS if event[0] in zones]
    for country, zones in {
        "US": [ET, HON],
        "GB": ["Europe/London"],
        "CN": ["Asia/Shanghai"],
    }.items()
}
# The variants whose window edges sit in the hours that clock changes skip or repeat.
CLOCK_PRESETS = ["DST-START", "DST-END", "ALL-DAY"]


@st.composite
def next_to_events(draw: st.DrawFn) -> tuple[str, list[str], datetime]:
    """A preset, and zones with an instant shortly before one zone's clock change or holiday
    (often a holiday of the preset's own calendar): where DST and calendar rules do their work."""
    if draw(st.booleans()):
        name = draw(st.one_of(st.sampled_from(CLOCK_PRESETS), window_presets))
        zone = draw(st.sampled_from(DST_ZONES))
        anchor = draw(st.sampled_from([at for z, at in TRANSITIONS if z == zone]))
    else:
        name = draw(window_presets)
        own = HOME_HOLIDAYS.get(PRESETS[name].holidays.calendar.country or "", [])
        zone, anchor = draw(st.sampled_from(draw(st.sampled_from([HOLIDAYS, own or HOLIDAYS]))))
    others = draw(st.lists(st.sampled_from(EDGE_ZONES), max_size=1))
    start = anchor - timedelta(seconds=draw(st.integers(-3600, 2 * 86400)))
    return name, sorted({zone, *others}), start


def _at(zone: str, year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@settings(max_examples=800, deadline=None)
@given(case=next_to_events(), channel=st.sampled_from(["sms", "email"]))
# Pinned: Chile's clocks skip from Saturday 24:00 to Sunday 01:00, Cuba's repeat Sunday 00:00–01:00,
# starts and ends inside a skipped or repeated hour, 调休 Saturday, 除夕 and 春节, a US holiday,
# and India's holidays under the old zone name phonenumbers gives every Indian number.
@example(("ALL-DAY", ["America/Santiago"], _at("America/Santiago", 2026, 9, 5, 12)), "sms")
@example(("ALL-DAY", ["America/Havana"], _at("America/Havana", 2026, 10, 31, 12)), "sms")
@example(("DST-START", [ET], _at(ET, 2026, 3, 7, 12)), "sms")
@example(("DST-START", [ET], _at(ET, 2026, 10, 31, 12)), "sms")
@example(("DST-END", ["Europe/Berlin"], _at("Europe/Berlin", 2026, 3, 28, 12)), "email")
@example(("DST-END", ["Europe/Berlin"], _at("Europe/Berlin", 2026, 10, 24, 12)), "email")
@example(("CN-workdays", ["Asia/Shanghai"], _at("Asia/Shanghai", 2026, 2, 13, 12)), "sms")
@example(("CN", ["Asia/Shanghai", "Europe/London"], _at("Asia/Shanghai", 2026, 2, 15)), "sms")
@example(("US-holiday-sunday-window", [ET, PT], _at(ET, 2026, 11, 25, 12)), "sms")
@example(("EU", ["Asia/Calcutta"], _at("Asia/Kolkata", 2026, 1, 25)), "sms")  # Republic Day
def test_windows_next_to_clock_changes_and_holidays_match_the_oracle(
    case: tuple[str, list[str], datetime], channel: str
) -> None:
    name, zones, start = case
    preset = PRESETS[name]
    spans = assert_intervals_match_oracle(zones, channel, preset, start, 3)
    first = next_allowed(zones, channel, preset, start)
    if spans:
        assert first == spans[0][0]
    else:
        assert first is None or first >= start + timedelta(days=3)


# --- caps -----------------------------------------------------------------------------------------

LENGTH = {
    "rolling_24h": timedelta(hours=24),
    "rolling_7d": timedelta(days=7),
    "rolling_30d": timedelta(days=30),
    "calendar_month": timedelta(days=31),  # the last 31 days hold any calendar month so far
}
Limit = tuple[str | None, int, timedelta]  # (channel or None for all, max, window)


def _limits(preset: Preset) -> list[Limit]:
    limits: list[Limit] = [
        (channel, cap.max, LENGTH[cap.window])
        for channel in ("sms", "email")
        for cap in getattr(preset.caps, channel)
    ]
    limits += [(None, cap.max, LENGTH[cap.window]) for cap in preset.caps.total]
    if (days := preset.letters.min_interval_days.value) > 0:
        limits.append(("letter", 1, timedelta(days=days)))
    return limits


def _counted(history: list[Touch], preset: Preset) -> list[Touch]:
    return [t for t in history if t.purpose not in preset.exempt_from_caps.value]


def fits(channel: str, purpose: str, history: list[Touch], at: datetime, preset: Preset) -> bool:
    if purpose in preset.exempt_from_caps.value:
        return True
    counted = _counted(history, preset)
    for scope, most, window in _limits(preset):
        if scope in (None, channel):
            inside = [t for t in counted if scope in (None, t.channel) and at - window < t.at <= at]
            if len(inside) >= most:
                return False
    gap = timedelta(minutes=preset.min_gap_minutes.value)
    return not (counted and at - max(t.at for t in counted) < gap)


def earliest_fit(
    channel: str, purpose: str, history: list[Touch], at: datetime, preset: Preset
) -> datetime | None:
    """The first instant from `at` at which the attempt fits, None if it never will."""
    counted = _counted(history, preset)
    gap = timedelta(minutes=preset.min_gap_minutes.value)
    candidates = {at, *(t.at + w for t in counted for _, _, w in _limits(preset))}
    candidates |= {t.at + gap for t in counted}
    return min(
        (c for c in candidates if c >= at and fits(channel, purpose, history, c, preset)),
        default=None,
    )


def assert_within_caps(history: list[Touch], released: list[Touch], preset: Preset) -> None:
    """When each released touch went, no window of any cap ending then held more than its max
    (windows ending between releases hold fewer) and the minimum gap had passed."""
    counted = _counted(history, preset)
    gap = timedelta(minutes=preset.min_gap_minutes.value)
    for touch in _counted(released, preset):
        for scope, most, window in _limits(preset):
            if scope in (None, touch.channel):
                inside = [t for t in counted if scope in (None, t.channel)]
                assert sum(touch.at - window < t.at <= touch.at for t in inside) <= most, scope
        month = [t for t in counted if t.at <= touch.at and t.at.month == touch.at.month]
        month = [t for t in month if t.at.year == touch.at.year]
        for cap in preset.caps.total:
            assert cap.window != "calendar_month" or len(month) <= cap.max
        assert all(t is touch or not touch.at - gap < t.at <= touch.at for t in counted)


CHANNELS = ["sms", "email", "letter"]
PURPOSES = ["reminder", "reminder", "reminder", "payment_link", "statutory_notice"]
PURPOSES += ["opt_out_confirmation", "reply_to_inbound", "validation_notice", "nosia"]
gaps = st.one_of(
    st.integers(0, 600),
    st.integers(0, 6 * 3600),
    st.integers(0, 3 * 86400),
    st.sampled_from([4 * 3600, 86400, 7 * 86400, 30 * 86400, 31 * 86400]),
)
attempts = st.lists(
    st.tuples(gaps, st.sampled_from(CHANNELS), st.sampled_from(PURPOSES)), min_size=1, max_size=40
)
# Touches already on record, from this debtor's other cases, possibly under other presets: they
# may already fill a window past this preset's max.
earlier = st.lists(
    st.tuples(st.integers(0, 31 * 86400), st.sampled_from(CHANNELS), st.sampled_from(PURPOSES)),
    max_size=12,
)


@settings(max_examples=600, deadline=None)
@given(name=st.sampled_from(NAMES), before=earlier, tries=attempts)
def test_caps_allow_exactly_what_fits_and_defer_to_the_earliest_instant_that_does(
    name: str, before: list[tuple[int, str, str]], tries: list[tuple[int, str, str]]
) -> None:
    preset = PRESETS[name]
    policy = cap_policy(preset)
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    history = [Touch(c, at - timedelta(seconds=s), p) for s, c, p in sorted(before, reverse=True)]
    released: list[Touch] = []
    for gap, channel, purpose in tries:
        at += timedelta(seconds=gap)
        decision = check(channel, purpose, history, at, policy, name)
        if fits(channel, purpose, history, at, preset):
            assert decision is None
            history.append(Touch(channel, at, purpose))
            released.append(history[-1])
            continue
        assert decision is not None and decision.rule.startswith("cap.")
        first = earliest_fit(channel, purpose, history, at, preset)
        if first is None:  # a cap of 0: waiting would never help
            assert decision.verdict is Verdict.SUPPRESS
            continue
        if preset.on_cap.value == "suppress":
            assert decision.verdict is Verdict.SUPPRESS and decision.until is None
            decision = check(channel, purpose, history, at, replace(policy, action="defer"))
            assert decision is not None
        assert decision.verdict is Verdict.DEFER and decision.until == first
        assert check(channel, purpose, history, first, policy) is None
        assert check(channel, purpose, history, first - SECOND, policy) is not None
    assert_within_caps(history, released, preset)


# --- the dispatcher's sequence: decide(), then the caps over the debtor's touches -----------------

# Answers the debtor asked for by writing to us go at once, outside the window (§6.5).
ANSWERS = {"opt_out_confirmation", "help_reply", "inbound_acknowledgement"}
messages = st.lists(
    st.tuples(st.integers(0, 10 * 86400), st.sampled_from(CHANNELS), st.sampled_from(PURPOSES)),
    min_size=1,
    max_size=15,
)


@settings(max_examples=500, deadline=None)
@given(debtor=debtors, name=st.sampled_from(NAMES), start=instants, batch=messages)
def test_released_messages_are_inside_every_window_and_never_over_a_cap(
    debtor: tuple[str | None, dict[str, str] | None, list[str]],
    name: str,
    start: datetime,
    batch: list[tuple[int, str, str]],
) -> None:
    preset = PRESETS[name]
    zones = candidate_zones(*debtor, preset)
    case = CaseFacts(state="active", preset=name, zones=tuple(zones))
    policy = cap_policy(preset)
    due = [(start + timedelta(seconds=s), i) for i, (s, _, _) in enumerate(batch)]
    heapq.heapify(due)
    history: list[Touch] = []
    while due:  # always the earliest due message first, as time passes
        at, i = heapq.heappop(due)
        offset, channel, purpose = batch[i]
        meant = start + timedelta(seconds=offset)
        message = MessageFacts(channel=channel, purpose=purpose, scheduled_at=meant)
        decision = decide(
            message, case, ContactFacts(channel=channel, status="active"), at, preset=preset
        )
        if decision.verdict is Verdict.ALLOW:
            decision = check(channel, purpose, history, at, policy, name) or decision
        if decision.verdict is Verdict.DEFER:
            assert decision.until is not None and decision.until > at
            waited = missed(zones, channel, purpose, preset, meant, decision.until)
            kept = bounded(decision, message, case, preset)
            if kept.rule == "defer.max_exceeded":  # expired: it would miss too much window
                assert waited > preset.max_defer, (zones, meant, decision)
                continue
            assert kept is decision and waited <= preset.max_defer, (zones, meant, decision)
            heapq.heappush(due, (decision.until, i))
        elif decision.verdict is Verdict.ALLOW:
            history.append(Touch(channel, at, purpose))
    for touch in history:
        if touch.channel in ("sms", "email") and touch.purpose not in ANSWERS:
            assert allowed(touch.at, zones, touch.channel, preset), (zones, touch)
    assert_within_caps(history, history, preset)


# --- the maximum deferral ------------------------------------------------------------------------

# A cap's deferral; a pause's or a window's is bounded the same way.
CAPPED = Decision(Verdict.DEFER, rule="cap.total.rolling_7d", reason="cap")


@settings(max_examples=400, deadline=None)
@given(
    debtor=debtors,
    name=window_presets,
    channel=st.sampled_from(CHANNELS),
    due=instants,
    wait=st.one_of(st.integers(0, 10 * 86400), st.integers(40 * 3600, 120 * 3600)),
)
# Pinned: UK Christmas and the May bank holiday weekend, 除夕 and 春节 2027, a US holiday weekend.
@example(
    (None, None, ["+447911123456"]),
    "UK-FCA",
    "sms",
    _at("Europe/London", 2026, 12, 24, 21),
    107 * 3600,
)
@example(
    (None, None, ["+447911123456"]),
    "UK-FCA",
    "email",
    _at("Europe/London", 2026, 5, 2, 18),
    61 * 3600,
)
@example(("Asia/Shanghai", None, []), "CN", "sms", _at("Asia/Shanghai", 2027, 2, 4, 21), 59 * 3600)
@example((ET, None, []), "US-RegF", "sms", _at(ET, 2026, 11, 25, 21), 5 * 86400)
def test_a_deferral_expires_exactly_when_it_would_miss_more_than_the_maximum_of_open_window(
    debtor: tuple[str | None, dict[str, str] | None, list[str]],
    name: str,
    channel: str,
    due: datetime,
    wait: int,
) -> None:
    preset = PRESETS[name]
    zones = candidate_zones(*debtor, preset)
    case = CaseFacts(state="active", preset=name, zones=tuple(zones))
    message = MessageFacts(channel=channel, purpose="reminder", scheduled_at=due)
    until = due + timedelta(seconds=wait)
    deferral = replace(CAPPED, until=until)
    kept = bounded(deferral, message, case, preset)
    expired = missed(zones, channel, "reminder", preset, due, until) > preset.max_defer
    assert (kept.rule == "defer.max_exceeded") == expired, (zones, due, until)
    assert kept is deferral or kept.verdict is Verdict.SUPPRESS
