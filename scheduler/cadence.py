"""Follow-up cadences (compliance §5.1, §6.7) as validated, typed data.

A cadence is a named plan of steps — each one message on one channel from one template, at an
offset — and the case states that stop it. The built-in cadences are YAML files in
`scheduler/cadences/`; an operator's directory (`CADENCES_DIR`) adds more, and a file there whose
`name` is a built-in's replaces that built-in whole (a cadence is read as one plan, never merged).

A step's offset is one of: `dpd: N` (the day the debt is N days past due), `after_start: 3d`
(from the day the cadence started, e.g. a placement), `after_previous: 2d` (from when the
previous step was actually sent). Which template a step names is checked against the template
pack by the caller (`load_cadences(..., templates=...)`): this package reads no templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from scheduler import field_errors
from scheduler.decisions import PURPOSES
from scheduler.preset_types import Model

BUILTIN_DIR = Path(__file__).parent / "cadences"

Channel = Literal["sms", "email", "letter"]
StopOn = Literal["paid", "closed", "hold", "ceased"]
STOP_ON: tuple[StopOn, ...] = ("paid", "closed", "hold", "ceased")
CaseState = Literal["active", "paused", "hold", "ceased", "closed"]
_DURATION = re.compile(r"(\d{1,4})([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class CadenceError(ValueError):
    """A cadence file is unreadable or invalid; the message names the file and the field."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file, self.path, self.problem = file, path, problem
        super().__init__(f"{file}: {path}: {problem}" if path else f"{file}: {problem}")


def duration(raw: object) -> timedelta:
    """`"3d"`, `"24h"`, `"90m"` as a timedelta; ValueError otherwise."""
    match = _DURATION.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise ValueError('must be a duration such as "3d", "24h" or "90m"')
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def format_duration(delta: timedelta) -> str:
    """A duration as a cadence file writes it: "3d", "24h", "90m"."""
    minutes = int(delta.total_seconds()) // 60
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


# How long a message is watched for a failure when its fallback does not say (`after`).
WATCH = {"sms": timedelta(hours=24), "email": timedelta(hours=72)}
WATCH_MIN, WATCH_MAX = timedelta(hours=1), timedelta(days=14)


class Fallback(Model):
    """Where a step's message goes instead when it fails on its own channel (escalation on
    receipts, `gateway.services.cadence_fallback`): a new message on `channel` from `template`.

    `after` is how long the failing message is watched: an SMS `undelivered` or `failed` within
    it falls back at once, and one with no delivery receipt by its end falls back then; an
    email that bounces or fails within it falls back (email has no delivery receipt, so silence
    means it arrived). Default 24h after an SMS, 72h after an email. A fallback may have its own
    `fallback` (sms → email → letter); a channel comes once in a chain, and a letter is the last
    resort: a returned letter goes to an operator instead."""

    channel: Channel
    template: str = Field(pattern=_NAME)
    after: timedelta | None = None
    fallback: Fallback | None = None

    @field_validator("after", mode="before")
    @classmethod
    def _duration(cls, raw: object) -> timedelta | None:
        if raw is None:
            return None
        value = duration(raw)
        if not WATCH_MIN <= value <= WATCH_MAX:
            raise ValueError("must be between 1h and 14d")
        return value


def chain(step: Step) -> list[Fallback]:
    """A step's fallbacks in order: its own, then that one's, and so on."""
    out: list[Fallback] = []
    link = step.fallback
    while link is not None:
        out.append(link)
        link = link.fallback
    return out


def _check_chain(step: Step) -> None:
    seen = [step.channel]
    where = "fallback"
    for link in chain(step):
        if seen[-1] == "letter":
            raise ValueError(
                f"{where}: a letter has no fallback; a returned letter goes to an operator"
            )
        if link.channel in seen:
            raise ValueError(f"{where}.channel: {link.channel} already comes earlier in the chain")
        seen.append(link.channel)
        where += ".fallback"


class StepIf(Model):
    """Send only if the previous step's message was not delivered within this long of its
    sending (e.g. an email when the SMS did not arrive)."""

    previous_not_delivered_within: timedelta

    @field_validator("previous_not_delivered_within", mode="before")
    @classmethod
    def _duration(cls, raw: object) -> timedelta:
        return duration(raw)


class Step(Model):
    name: str = Field(pattern=_NAME)
    dpd: int | None = Field(default=None, ge=-30, le=3650)
    after_start: timedelta | None = None
    after_previous: timedelta | None = None
    channel: Channel
    template: str = Field(pattern=_NAME)
    purpose: str = "reminder"
    unless: Literal["replied_since_previous"] | None = None
    if_: StepIf | None = Field(default=None, alias="if")
    # The case states the step may go in; in any other it is skipped (stop conditions aside).
    states: list[CaseState] | None = Field(default=None, min_length=1)
    fallback: Fallback | None = None

    @field_validator("after_start", "after_previous", mode="before")
    @classmethod
    def _duration(cls, raw: object) -> timedelta | None:
        return None if raw is None else duration(raw)

    @field_validator("purpose")
    @classmethod
    def _purpose(cls, value: str) -> str:
        if value not in PURPOSES:
            raise ValueError(f"unknown purpose {value!r}; known: {', '.join(PURPOSES)}")
        return value

    @model_validator(mode="after")
    def _one_offset(self) -> Step:
        given = [
            n for n in ("dpd", "after_start", "after_previous") if getattr(self, n) is not None
        ]
        if len(given) != 1:
            raise ValueError("a step has exactly one of dpd, after_start, after_previous")
        _check_chain(self)
        return self

    @property
    def anchor(self) -> Literal["dpd", "start", "previous"]:
        if self.dpd is not None:
            return "dpd"
        return "start" if self.after_start is not None else "previous"


class Cadence(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    description: str = ""
    stop_on: list[StopOn] = Field(default_factory=lambda: list(STOP_ON))
    steps: list[Step] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _ordered(self) -> Cadence:
        names = [s.name for s in self.steps]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"steps[{index}].name: {name!r} is used by an earlier step")
        anchors = {s.anchor for s in self.steps} - {"previous"}
        if len(anchors) > 1:
            raise ValueError("steps count either from dpd or from after_start, not both")
        if self.steps[0].anchor == "previous":
            raise ValueError(
                "steps[0]: the first step has no previous step; use dpd or after_start"
            )
        # Each step's nominal offset (an `after_previous` step adds to the one before) must not
        # come before an earlier step's: the plan's due times rely on the order.
        reached = timedelta.min
        for index, step in enumerate(self.steps):
            offset = (
                reached + step.after_previous if step.after_previous is not None else _offset(step)
            )
            if offset < reached:
                raise ValueError(
                    f"steps[{index}]: comes before an earlier step; keep them in order"
                )
            reached = offset
        return self

    @property
    def counts_from(self) -> Literal["dpd", "start"]:
        """Whether the steps' days are days past due or days from the cadence's start."""
        return "dpd" if self.steps[0].anchor == "dpd" else "start"


def _offset(step: Step) -> timedelta:
    return timedelta(days=step.dpd) if step.dpd is not None else step.after_start or timedelta(0)


def load_cadences(
    extra_dir: Path | None = None, *, templates: Mapping[tuple[str, str], str] | None = None
) -> dict[str, Cadence]:
    """All cadences by name: the built-ins, then the operator's files in `extra_dir` (replacing a
    built-in of the same name). `templates` maps (channel, key) to the template's purpose: every
    step's template (and fallback) must be one, with the purpose the step states."""
    cadences: dict[str, Cadence] = {}
    for file in sorted(BUILTIN_DIR.glob("*.yaml")):
        cadences.update(_load(file, templates))
    if extra_dir is None:
        return cadences
    if not extra_dir.is_dir():
        raise CadenceError(str(extra_dir), "", "cadence directory does not exist")
    seen: dict[str, str] = {}
    for file in sorted([*extra_dir.glob("*.yaml"), *extra_dir.glob("*.yml")]):
        [(name, cadence)] = _load(file, templates).items()
        if name in seen:
            raise CadenceError(
                file.name, "name", f"cadence {name!r} is also defined in {seen[name]}"
            )
        seen[name] = file.name
        cadences[name] = cadence
    return cadences


def _load(file: Path, templates: Mapping[tuple[str, str], str] | None) -> dict[str, Cadence]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CadenceError(file.name, "", f"cannot read: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise CadenceError(file.name, "", "must be a mapping with a name and steps")
    try:
        cadence = Cadence.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CadenceError(
            file.name, field_errors.path(first["loc"]), field_errors.problem(first)
        ) from None
    if templates is not None:
        _check_templates(file.name, cadence, templates)
    return {cadence.name: cadence}


def _check_templates(file: str, cadence: Cadence, templates: Mapping[tuple[str, str], str]) -> None:
    for index, step in enumerate(cadence.steps):
        where = f"steps[{index}]"
        purpose = templates.get((step.channel, step.template))
        if purpose is None:
            raise CadenceError(file, f"{where}.template", _unknown(step, templates))
        if purpose != step.purpose:
            raise CadenceError(
                file,
                f"{where}.purpose",
                f"{step.purpose!r}, but template {step.template!r} ({step.channel}) is {purpose!r}",
            )
        link = where
        for fallback in chain(step):
            link += ".fallback"
            if (fallback.channel, fallback.template) not in templates:
                raise CadenceError(
                    file,
                    f"{link}.template",
                    f"no {fallback.channel} template {fallback.template!r} in the template pack",
                )


def _unknown(step: Step, templates: Mapping[tuple[str, str], str]) -> str:
    known = sorted(key for channel, key in templates if channel == step.channel)
    return (
        f"no {step.channel} template {step.template!r} in the template pack; "
        f"known: {', '.join(known) or 'none'}"
    )
