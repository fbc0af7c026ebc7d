"""Request and response bodies of the v1 API. These models are also the OpenAPI components."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import babel
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scheduler.decisions import PURPOSES

Channel = Literal["sms", "email", "letter"]
Locale = Literal["en", "zh-CN"]
# Built-in presets are US-RegF, UK-FCA, CN and EU; operators may add their own (PRESETS_DIR).
Preset = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
CollectorRole = Literal["first_party", "third_party"]
Ref = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PostalAddress(Strict):
    lines: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        min_length=1, max_length=6
    )
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    postal_code: Annotated[str, Field(max_length=16)] | None = None

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str) -> str:
        # The address decides candidate time zones: a code that names no country ("UK") would
        # silently fall back to the preset's zones instead of the debtor's.
        if value not in _countries():
            hint = " (the United Kingdom is GB)" if value == "UK" else ""
            raise ValueError(f"not an ISO 3166-1 alpha-2 country code{hint}")
        return value


@cache
def _countries() -> frozenset[str]:
    names = babel.Locale("en").territories
    pseudo = {"EU", "EZ", "QO", "UN", "ZZ"}  # groupings and "unknown", not countries
    return frozenset(k for k in map(str, names) if len(k) == 2 and k.isalpha() and k not in pseudo)


class Debtor(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    first_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    locale: Locale = "en"
    timezone: str | None = None
    postal_address: PostalAddress | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value not in _zones():
            raise ValueError("not an IANA time zone name")
        try:
            ZoneInfo(value)
        except ZoneInfoNotFoundError:
            raise ValueError("not an IANA time zone name") from None
        return value


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


_ZONES: set[str] | None = None


class Debt(Strict):
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    due_date: date
    days_past_due: int = Field(ge=0, le=36500)
    account_number: Annotated[str, Field(min_length=4, max_length=34, pattern=r"^[A-Za-z0-9 \-]+$")]
    # Time-barred (the statute of limitations has run): content rules `when: sol_expired` apply.
    sol_expired: bool = False


ContactRole = Literal["debtor", "third_party"]


class ContactIn(Strict):
    channel: Literal["sms", "email"]
    address: Annotated[str, Field(min_length=3, max_length=320)]
    # `third_party`: someone else's number or address on file (e.g. an emergency contact, 紧急联系人).
    role: ContactRole = "debtor"

    @model_validator(mode="after")
    def _normalize(self) -> ContactIn:
        self.address = normalize_address(self.channel, self.address)
        return self


def normalize_address(channel: str, address: str) -> str:
    """E.164 for phone numbers, normalized form for email; ValueError with a reason otherwise."""
    if channel == "sms":
        try:
            number = phonenumbers.parse(address, None)
        except phonenumbers.NumberParseException:
            raise ValueError("phone numbers are given in E.164 form, e.g. +14155550100") from None
        if not phonenumbers.is_valid_number(number):
            raise ValueError("not a valid phone number")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HH_MM = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


class LocalHours(Strict):
    start: Annotated[str, Field(pattern=_HH_MM)]
    end: Annotated[str, Field(pattern=_HH_MM)]

    @model_validator(mode="after")
    def _ordered(self) -> LocalHours:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class Restrictions(Strict):
    """What the debtor asked for (US 1006.6(b)(1), UK CONC 7.9.4R): contact only within these
    local hours, on these days, by these channels. They narrow the preset; they never widen it."""

    hours: LocalHours | None = None
    days: list[Day] | None = Field(default=None, min_length=1)
    channels: list[Channel] | None = Field(default=None, min_length=1)
    note: Annotated[str, Field(max_length=500)] | None = None


class CaseIn(Strict):
    debtor: Debtor
    preset: Preset
    collector_role: CollectorRole = "first_party"
    debt: Debt
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)
    # Absent: unchanged. `{}`: cleared.
    restrictions: Restrictions | None = None


class ContactOut(BaseModel):
    channel: Channel
    address: str
    status: str
    role: ContactRole = "debtor"


HoldKind = Literal[
    "dispute", "bankruptcy", "breathing_space", "attorney", "deceased", "capacity", "legal"
]


class CaseEventIn(Strict):
    """An upstream fact about a case. Which fields apply depends on `type`."""

    type: Literal[
        "payment_received", "promise_to_pay", "dispute", "hold", "release", "close", "cease"
    ]
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    full: bool = True
    promised_date: date | None = None
    hold: HoldKind | None = None
    reason: Literal["paid", "settled", "written_off", "other"] | None = None
    note: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _fields_for_type(self) -> CaseEventIn:
        if self.type == "promise_to_pay" and self.promised_date is None:
            raise ValueError("promise_to_pay needs promised_date")
        if self.type == "hold" and self.hold is None:
            raise ValueError("hold needs hold (the kind of hold)")
        if self.type != "hold" and self.hold is not None:
            raise ValueError("hold is only for type=hold")
        if self.type == "close" and self.reason is None:
            raise ValueError("close needs reason")
        return self


class CaseEventOut(BaseModel):
    case_ref: str
    state: str
    state_reason: str | None
    state_until: datetime | None
    pending_reevaluated: int


class CaseOut(BaseModel):
    case_ref: str
    state: str
    state_reason: str | None
    state_until: datetime | None
    preset: str
    collector_role: str
    debtor: dict[str, Any]
    debt: dict[str, Any]
    contacts: list[ContactOut]
    restrictions: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime


class ReminderIn(Strict):
    case_ref: Ref
    template: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
    channel: Channel
    idempotency_key: Annotated[str, Field(min_length=1, max_length=128)]
    to: Annotated[str, Field(min_length=3, max_length=320)] | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("not_before", "expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2026-11-23T09:00:00+00:00")
        return value

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
    from_: Annotated[str, Field(alias="from", min_length=3, max_length=32)]
    to: Annotated[str, Field(min_length=1, max_length=32)]
    body: Annotated[str, Field(min_length=1, max_length=1600)]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SandboxReceiptIn(Strict):
    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    message_ref: Annotated[str, Field(min_length=1, max_length=128)]
    status: Literal["queued", "sent", "delivered", "undelivered", "failed"]
    occurred_at: datetime
    error: str | None = None


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
    at: datetime | None = None
    purpose: Purpose = "reminder"

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone offset, e.g. 2026-11-23T09:00:00+00:00")
        return value


class PolicyEvaluateOut(BaseModel):
    decision: Literal["allow", "defer", "suppress", "reroute", "review"]
    until: datetime | None
    reason: str | None
    rule: str | None
    preset: str
    preset_version: int | None = None
    zones: list[str]
    at: datetime


class TemplateLintIn(Strict):
    """A template to check against a preset's content rules, rendered with sample case data."""

    channel: Channel
    locale: Locale
    preset: Preset
    collector_role: CollectorRole = "first_party"
    purpose: Annotated[str, Field(min_length=1, max_length=32)] = "reminder"
    subject: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    # The SMS text, the email's text part, or the letter's HTML.
    body: Annotated[str, Field(min_length=1, max_length=100_000)]
    html: Annotated[str, Field(min_length=1, max_length=200_000)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    sol_expired: bool = False

    @field_validator("purpose")
    @classmethod
    def _known_purpose(cls, value: str) -> str:
        if value not in PURPOSES:
            raise ValueError(f"unknown purpose; known: {', '.join(PURPOSES)}")
        return value

    @model_validator(mode="after")
    def _parts_for_channel(self) -> TemplateLintIn:
        if self.channel == "email" and self.subject is None:
            raise ValueError("an email template needs a subject")
        if self.channel != "email" and (self.subject is not None or self.html is not None):
            raise ValueError(f"a {self.channel} template has only a body")
        if len(repr(self.data)) > 8000:
            raise ValueError("data is limited to 8000 characters")
        return self


class TemplateProblemOut(BaseModel):
    rule: Literal["content.required", "content.forbidden", "content.masking"]
    block: str | None = None
    phrase: str | None = None
    part: str | None = None
    message: str


class TemplateLintOut(BaseModel):
    ok: bool
    problems: list[TemplateProblemOut]
    preset: str
    rendered: dict[str, Any]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]]


class ErrorOut(BaseModel):
    error: ErrorBody


MessageOut.model_rebuild()
