"""Request and response bodies about follow-up cadences: the cadences the gateway knows
(`GET /v1/cadences…`) and the one running on a case (`/v1/cases/{ref}/cadence`). Re-exported by
`gateway.schemas`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.schemas.types import Channel, DateTime, Strict

CadenceName = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]


class CadenceFallbackOut(BaseModel):
    """Where a step goes when its message fails on its channel; `after`: how long that message
    is watched ("24h"); a fallback may have its own."""

    channel: Channel
    template: str
    after: str
    fallback: CadenceFallbackOut | None = None


class CadenceStepOut(BaseModel):
    """One step as the cadence file states it; exactly one of `dpd`, `after_start`,
    `after_previous` is set (durations as written: "3d", "24h")."""

    model_config = ConfigDict(populate_by_name=True)

    name: str
    dpd: int | None = None
    after_start: str | None = None
    after_previous: str | None = None
    channel: Channel
    template: str
    purpose: str
    unless: str | None = None
    if_: dict[str, str] | None = Field(default=None, alias="if")
    states: list[str] | None = None
    fallback: CadenceFallbackOut | None = None


class CadenceOut(BaseModel):
    name: str
    description: str
    # `dpd`: the steps' days are days past due; `start`: days from the cadence's start.
    counts_from: Literal["dpd", "start"]
    stop_on: list[str]
    steps: list[CadenceStepOut]


class CadenceListOut(BaseModel):
    cadences: list[CadenceOut]


class CadenceRunIn(Strict):
    """Start a cadence on a case, or replace the one running. `start`: day 0 of `after_start`
    steps (e.g. the placement), and the day before which DPD marks are skipped; default now."""

    cadence: CadenceName
    start: DateTime | None = None


class CadenceRunFallbackOut(BaseModel):
    """A fallback made for a step: which attempt, on what, why, and what its message became
    (`state` the message's, or `rejected` when intake refused it, with `state_reason` why)."""

    attempt: int
    channel: Channel
    template: str
    reason: str
    replaces: str | None = None
    message_id: str | None = None
    state: str
    state_reason: str | None = None
    sent_at: datetime | None = None
    created_at: datetime


class CadenceRunStepOut(BaseModel):
    name: str
    channel: Channel
    template: str
    state: Literal["pending", "released", "sent", "skipped", "cancelled"]
    # When it is (or was) due; for later pending steps a projection from the earlier ones.
    due_at: datetime | None
    reason: str | None = None
    message_id: str | None = None
    sent_at: datetime | None = None
    # The messages the step fell back to, in order, when its own failed on its channel.
    fallbacks: list[CadenceRunFallbackOut] = Field(default_factory=list)


class CadenceRunOut(BaseModel):
    case_ref: str
    cadence: str
    state: Literal["active", "stopped", "finished"]
    start: datetime
    created_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None
    steps: list[CadenceRunStepOut]
