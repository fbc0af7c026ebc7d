"""Jurisdiction presets (compliance.md §6.3) as validated, typed data.

The built-in presets are YAML files in `scheduler/presets/`, shipped inside the package. An
operator directory may add presets or override built-ins: a file whose `name` is a built-in, or
which says `base: <preset>`, is deep-merged over that preset (mappings merge, lists replace), so
an override only states what it changes. Every rule carries its basis tag (L, R, S, P): a scalar
rule is `{value: …, tag: …}`, a structured rule carries `tag` beside its fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from scheduler import field_errors
from scheduler.preset_content import Content
from scheduler.preset_types import Model, Tag, Value, known_purposes

BUILTIN_DIR = Path(__file__).parent / "presets"

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HolidaySelector = Literal["spring_festival_eve", "spring_festival_day_1"]
_HH_MM = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00")


class PresetError(ValueError):
    """A preset file is unreadable or invalid; the message names the file and the field path."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file, self.path, self.problem = file, path, problem
        super().__init__(f"{file}: {path}: {problem}" if path else f"{file}: {problem}")


class DayWindow(Model):
    """A local-time window for a set of weekdays; days with no window are blocked."""

    days: list[Day] = Field(min_length=1)
    start: time
    end: time
    tag: Tag

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hh_mm(cls, raw: object) -> object:
        # Unquoted 08:00 is a YAML 1.1 base-60 integer (480); refuse it rather than read 00:08.
        if not isinstance(raw, str) or not _HH_MM.fullmatch(raw):
            raise ValueError('must be a quoted "HH:MM" string')
        # "24:00" ends the window at midnight: a whole day is "00:00"–"24:00".
        return time.max if raw == "24:00" else raw

    @model_validator(mode="after")
    def _ordered(self) -> DayWindow:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class Calendar(Model):
    country: str | None  # None: each zone's own country (see Holidays.foreign_zones)
    subdivisions: list[str] = []
    only: list[HolidaySelector] = []  # empty: every holiday of the calendar
    tag: Tag


class Holidays(Model):
    calendar: Calendar
    mode: Value[Literal["allow", "block", "use_weekend_window"]]
    foreign_zones: Value[Literal["home", "zone_country"]]
    makeup_workdays: Value[bool]
    unmapped_countries: Value[list[str]] | None = None


class Tz(Model):
    mode: Value[Literal["intersect", "consumer_stated_overrides"]]
    stale_after_days: Value[int]
    fallback_zones: Value[list[str]]
    on_empty_intersection: Value[Literal["reroute_letter", "review"]]

    @field_validator("fallback_zones")
    @classmethod
    def _real_zones(cls, zones: Value[list[str]]) -> Value[list[str]]:
        if not zones.value:
            raise ValueError("at least one fallback zone is required")
        for name in zones.value:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA zone {name!r}") from None
        return zones


class Cap(Model):
    max: int = Field(ge=0)
    window: Literal["rolling_24h", "rolling_7d", "rolling_30d", "calendar_month"]
    scope: Literal["per_debt", "per_debtor"]
    count: Literal["sent", "delivered", "connected", "attempted"]
    tag: Tag


class Caps(Model):
    sms: list[Cap]
    email: list[Cap]
    call: list[Cap] = []
    total: list[Cap]


class Windows(Model):
    sms: list[DayWindow]
    email: list[DayWindow]
    call: list[DayWindow] = []

    @field_validator("sms", "email", "call")
    @classmethod
    def _one_rule_per_day(cls, rules: list[DayWindow]) -> list[DayWindow]:
        seen = [day for rule in rules for day in rule.days]
        dupes = sorted({day for day in seen if seen.count(day) > 1})
        if dupes:
            raise ValueError(f"more than one window for {', '.join(dupes)}")
        return rules


class Letters(Model):
    min_interval_days: Value[int]
    release_on_business_days_only: Value[bool]


class InboundGrace(Model):
    max_replies: int = Field(ge=0)
    within_minutes: int = Field(ge=0)
    tag: Tag


class HoldRule(Model):
    """What a case in one hold state may still receive (compliance §6.2 `hold.<type>`): purposes
    in `allow` go out, purposes in `review` wait for a person (REVIEW), all others are
    suppressed."""

    allow: list[str] = []
    review: list[str] = []
    tag: Tag

    @field_validator("allow", "review")
    @classmethod
    def _known_purposes(cls, purposes: list[str]) -> list[str]:
        return known_purposes(purposes)


class Preset(Model):
    """One validated preset, with typed accessors for the scheduler."""

    name: str = Field(min_length=1)
    version: int
    jurisdiction: str
    windows: Windows
    safety_margin_min: Value[int]
    # How long a deferred message may wait, in hours its contact window was open: nights, closed
    # days and holidays do not count (scheduler/deferral.py). Past it the message expires.
    max_defer_hours: Value[int]
    holidays: Holidays
    tz: Tz
    caps: Caps
    min_gap_minutes: Value[int]
    # Over a cap: wait until the window frees (never catching up in a burst), or drop the touch.
    on_cap: Value[Literal["defer", "suppress"]] = Value[Literal["defer", "suppress"]](
        value="defer", tag="P"
    )
    cooldown_after_conversation_days: dict[str, Value[int]]
    letters: Letters
    exempt_from_caps: Value[list[str]]
    inbound_reply_grace: InboundGrace
    content: Content
    # Case states that stop contact: `hold` kinds (dispute, bankruptcy, breathing_space, attorney,
    # deceased, capacity, legal), `ceased` and `closed`. A state with no entry allows nothing.
    holds: dict[str, HoldRule] = {}
    # Messages to someone who is not the debtor (an emergency contact): only `deny` is offered.
    thirdparty: Value[Literal["deny"]] = Value[Literal["deny"]](value="deny", tag="L")

    def hold_rule(self, state: str, reason: str | None) -> HoldRule | None:
        """The rule for a case state (`hold` by its kind), or None when the preset has none."""
        return self.holds.get((reason or "") if state == "hold" else state)

    def window(self, channel: str, weekday: int) -> DayWindow | None:
        """The channel's window for a weekday (0 = Monday), or None when that day is blocked."""
        rules: list[DayWindow] = getattr(self.windows, channel, None) or []
        day = DAYS[weekday]
        return next((rule for rule in rules if day in rule.days), None)

    @property
    def safety_margin(self) -> timedelta:
        return timedelta(minutes=self.safety_margin_min.value)

    @property
    def max_defer(self) -> timedelta:
        return timedelta(hours=self.max_defer_hours.value)

    @property
    def fallback_zones(self) -> list[str]:
        return list(self.tz.fallback_zones.value)

    @property
    def on_empty_intersection(self) -> str:
        return self.tz.on_empty_intersection.value

    def caps_for(self, channel: str) -> list[Cap]:
        """Caps of one channel, or of all channels together with `channel="total"`."""
        caps: list[Cap] = getattr(self.caps, channel, None) or []
        return caps


def load_presets(extra_dir: Path | None = None) -> dict[str, Preset]:
    """All presets by name: the built-ins, then the operator's files in `extra_dir` (if any)."""
    raw: dict[str, dict[str, Any]] = {}
    presets: dict[str, Preset] = {}
    for file in sorted(BUILTIN_DIR.glob("*.yaml")):
        data = _read(file)
        presets[data.get("name", "")] = _validate(file, data)
        raw[data["name"]] = data
    if extra_dir is None:
        return presets
    if not extra_dir.is_dir():
        raise PresetError(str(extra_dir), "", "preset directory does not exist")
    seen: dict[str, str] = {}
    for file in sorted([*extra_dir.glob("*.yaml"), *extra_dir.glob("*.yml")]):
        data = _read(file)
        name = data.get("name")
        if not isinstance(name, str):
            raise PresetError(file.name, "name", "field required")
        if name in seen:
            raise PresetError(file.name, "name", f"preset {name!r} is also defined in {seen[name]}")
        seen[name] = file.name
        base = data.pop("base", name if name in raw else None)
        if base is not None:
            if base not in raw:
                raise PresetError(file.name, "base", f"unknown preset {base!r}")
            data = _merge(raw[base], data)
        presets[name] = _validate(file, data)
    return presets


def get_preset(name: str, extra_dir: Path | None = None) -> Preset:
    """One preset by name; KeyError names the known presets."""
    presets = load_presets(extra_dir)
    try:
        return presets[name]
    except KeyError:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(sorted(presets))}") from None


def _read(file: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PresetError(file.name, "", f"cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise PresetError(file.name, "", "must be a mapping of settings")
    return data


def _validate(file: Path, data: Mapping[str, Any]) -> Preset:
    try:
        return Preset.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PresetError(
            file.name, field_errors.path(first["loc"]), field_errors.problem(first)
        ) from None


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        merged[key] = (
            _merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
        )
    return merged
