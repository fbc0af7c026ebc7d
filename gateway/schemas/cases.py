"""Request and response bodies about cases: the debtor, the debt, contact points and the debtor's
own restrictions (the postal address is `gateway.schemas.addresses`, upstream events
`gateway.schemas.events`). Re-exported by `gateway.schemas`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field, field_validator, model_validator

from gateway.schemas.addresses import PostalAddress
from gateway.schemas.types import (
    Amount,
    Channel,
    CollectorRole,
    Date,
    Line,
    Locale,
    Preset,
    Strict,
    Text,
)


class Debtor(Strict):
    name: Annotated[Line, Field(min_length=1, max_length=200)]
    first_name: Annotated[Line, Field(min_length=1, max_length=100)] | None = None
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
    amount: Amount
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    due_date: Date
    days_past_due: int = Field(ge=0, le=36500)
    account_number: Annotated[str, Field(min_length=4, max_length=34, pattern=r"^[A-Za-z0-9 \-]+$")]
    # Time-barred (the statute of limitations has run): content rules `when: sol_expired` apply.
    sol_expired: bool = False


ContactRole = Literal["debtor", "third_party"]


class ContactIn(Strict):
    channel: Literal["sms", "email"]
    address: Annotated[Line, Field(min_length=3, max_length=320)]
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
    note: Annotated[Text, Field(max_length=500)] | None = None


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
