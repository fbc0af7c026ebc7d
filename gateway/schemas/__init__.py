"""Request and response bodies of the v1 API: the HTTP layer parses requests into them and the
services take and return them, so neither depends on the other for its contract. These models are
also the OpenAPI components; the case bodies live in `gateway.schemas.cases`, `.addresses` and
`.events` and are re-exported here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.schemas.addresses import PostalAddress
from gateway.schemas.cadences import (
    CadenceListOut,
    CadenceOut,
    CadenceRunFallbackOut,
    CadenceRunIn,
    CadenceRunOut,
    CadenceRunStepOut,
    CadenceStepOut,
)
from gateway.schemas.cases import (
    CaseIn,
    CaseOut,
    ContactIn,
    ContactOut,
    ContactRole,
    Debt,
    Debtor,
    LocalHours,
    Restrictions,
    normalize_address,
)
from gateway.schemas.events import CaseEventIn, CaseEventOut, HoldKind
from gateway.schemas.evidence import EvidenceLine
from gateway.schemas.templates import TemplateLintIn, TemplateLintOut, TemplateProblemOut
from gateway.schemas.types import (
    Channel,
    CollectorRole,
    DateTime,
    Line,
    Locale,
    Preset,
    Ref,
    Strict,
    Text,
)

__all__ = [
    "CadenceListOut",
    "CadenceOut",
    "CadenceRunFallbackOut",
    "CadenceRunIn",
    "CadenceRunOut",
    "CadenceRunStepOut",
    "CadenceStepOut",
    "CaseEventIn",
    "CaseEventOut",
    "EvidenceLine",
    "CaseIn",
    "CaseOut",
    "Channel",
    "CollectorRole",
    "ContactIn",
    "ContactOut",
    "ContactRole",
    "Debt",
    "Debtor",
    "HoldKind",
    "Locale",
    "LocalHours",
    "PostalAddress",
    "Preset",
    "Restrictions",
    "TemplateLintIn",
    "TemplateLintOut",
    "TemplateProblemOut",
    "normalize_address",
]


class ReminderIn(Strict):
    """One reminder. `expires_at`, when given with `not_before`, must be after it (422)."""

    case_ref: Ref
    template: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
    channel: Channel
    idempotency_key: Annotated[Line, Field(min_length=1, max_length=128)]
    to: Annotated[Line, Field(min_length=3, max_length=320)] | None = None
    not_before: DateTime | None = None
    expires_at: DateTime | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _window(self) -> ReminderIn:
        if self.not_before and self.expires_at and self.expires_at <= self.not_before:
            raise ValueError("expires_at must be after not_before")
        if len(repr(self.data)) > 8000:
            raise ValueError("data is limited to 8000 characters")
        return self


class BatchIn(Strict):
    items: list[ReminderIn] = Field(min_length=1, max_length=1000)


class ReminderResult(BaseModel):
    index: int | None = None
    status: Literal["accepted", "duplicate", "rejected"]
    id: str | None = None
    state: str | None = None
    error: dict[str, Any] | None = None


class BatchOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[ReminderResult]


class DeliveryEventOut(BaseModel):
    type: str
    provider: str
    occurred_at: datetime
    reject_reason: str | None = None
    description: str | None = None


class MessageOut(BaseModel):
    id: str
    case_ref: str
    channel: Channel
    template: str
    template_version: int
    locale: str
    state: str
    state_reason: str | None
    attempts: int
    provider: str | None
    provider_ref: str | None
    not_before: datetime | None
    expires_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    rendered: dict[str, Any] | None
    events: list[DeliveryEventOut]
    history: list[TimelineEntryOut]
    waiting: WaitingOut | None = None


class WaitingOut(BaseModel):
    """Why a message has not gone out yet: the rule that holds it, its preset, until when."""

    rule: str | None
    preset: str | None
    preset_version: int | None = None
    reason: str | None
    until: datetime | None


class TimelineEntryOut(BaseModel):
    id: int
    at: datetime
    kind: str
    message_id: str | None
    actor: str
    data: dict[str, Any]


class TimelineOut(BaseModel):
    case_ref: str
    entries: list[TimelineEntryOut]
    next_after: int | None


class SandboxInboundIn(Strict):
    from_: Annotated[Line, Field(alias="from", min_length=3, max_length=32)]
    to: Annotated[Line, Field(min_length=1, max_length=32)]
    body: Annotated[Text, Field(min_length=1, max_length=1600)]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SandboxReceiptIn(Strict):
    event_id: Annotated[Line, Field(min_length=1, max_length=128)]
    message_ref: Annotated[Line, Field(min_length=1, max_length=128)]
    status: Literal["queued", "sent", "delivered", "undelivered", "failed"]
    occurred_at: DateTime
    error: Annotated[Line, Field(max_length=500)] | None = None


Purpose = Literal[
    "reminder",
    "reply_to_inbound",
    "inbound_acknowledgement",
    "opt_out_confirmation",
    "help_reply",
    "statutory_notice",
    "validation_notice",
    "nosia",
    "default_notice",
    "termination_notice",
    "payment_receipt_requested",
]  # scheduler.decisions.PURPOSES


class PolicyEvaluateIn(Strict):
    case_ref: Ref
    channel: Channel
    at: DateTime | None = None
    purpose: Purpose = "reminder"


class ZoneSource(BaseModel):
    """Where some of the candidate zones came from: `stated`, `postal_address`, `phone` (never
    the number itself) or `fallback` (the preset's zones, when no source names one)."""

    source: Literal["stated", "postal_address", "phone", "fallback"]
    zones: list[str]
    basis: str
    widened: str | None = None


class PolicyEvaluateOut(BaseModel):
    """`decision`, `rule` and `reason`: what stops the message at `at`; `until`: for a deferral,
    the next instant it may go (every rule on the way decided again)."""

    decision: Literal["allow", "defer", "suppress", "reroute", "review"]
    until: datetime | None
    reason: str | None
    rule: str | None
    preset: str
    preset_version: int | None = None
    zones: list[str]
    # Why `zones` is wider than the debtor's one place, e.g. "the postal address names no state
    # or ZIP code: every US zone counts"; null when nothing was widened.
    zones_note: str | None = None
    zone_sources: list[ZoneSource] = []
    at: datetime
    would_expire: bool = Field(
        False,
        description="A message accepted at `at` would wait longer than the preset's maximum "
        "deferral, counted in open contact-window time, and expire (`defer.max_exceeded`).",
    )
    expiry_reason: str | None = Field(None, description="Why it would expire.")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]]


class ErrorOut(BaseModel):
    error: ErrorBody


MessageOut.model_rebuild()
