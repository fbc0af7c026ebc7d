"""Request and response bodies about cases: the debtor, the debt, contact points, the debtor's own
restrictions, and upstream events. Re-exported by `gateway.schemas`."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import babel
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

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
from scheduler import ca_provinces, us_states


class PostalAddress(Strict):
    """A postal address: the street `lines`, and `city`, `region` (state, province…) and
    `postal_code` as fields, the shape of Lob's and most address APIs. An address given as
    lines only, its last line "City, ST 12345", keeps working. A US `region` is stored as its
    USPS code ("New York" → "NY"), a Canadian one as its province code; without one, the
    postal code names the state or province for the contact window (scheduler.postal)."""

    lines: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        min_length=1, max_length=6
    )
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    city: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    region: Annotated[str, Field(min_length=1, max_length=100)] | None = None
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

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Where regions decide the debtor's zones (US states, Canadian provinces) a region must
        # be one the post knows, and is kept as its code: it is also printed on the envelope.
        country = info.data.get("country")
        if value is None or country not in REGIONS:
            return value
        read, problem = REGIONS[country]
        if (code := read(value)) is None:
            raise ValueError(problem)
        return code

    @field_validator("postal_code")
    @classmethod
    def _postal_code(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if value is None or country not in POSTAL_CODES:
            return value
        pattern, problem = POSTAL_CODES[country]
        if not pattern.match(value.upper()):
            raise ValueError(problem)
        if country == "CA":  # "k1a0b1" → "K1A 0B1", as Canada Post prints it
            compact = value.upper().replace(" ", "")
            return f"{compact[:3]} {compact[3:]}"
        return value


# Country → (region code of a code or a name, or None; the problem when it is None).
REGIONS: dict[str, tuple[Callable[[str], str | None], str]] = {
    "US": (
        us_states.state_code,
        "not a US state, territory or Armed Forces region: give its USPS code (NY) or its "
        "name (New York)",
    ),
    "CA": (
        ca_provinces.province_code,
        "not a Canadian province or territory: give its code (ON) or its name (Ontario)",
    ),
}
POSTAL_CODES: dict[str, tuple[re.Pattern[str], str]] = {
    "US": (us_states.ZIP_CODE, "a US ZIP code is five digits, or ZIP+4 (12345-6789)"),
    "CA": (ca_provinces.POSTAL_CODE, "a Canadian postal code reads A1A 1A1"),
}


@cache
def _countries() -> frozenset[str]:
    names = babel.Locale("en").territories
    pseudo = {"EU", "EZ", "QO", "UN", "ZZ"}  # groupings and "unknown", not countries
    return frozenset(k for k in map(str, names) if len(k) == 2 and k.isalpha() and k not in pseudo)


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


HoldKind = Literal[
    "dispute", "bankruptcy", "breathing_space", "attorney", "deceased", "capacity", "legal"
]


def _when_type(kind: str, then: dict[str, Any], otherwise: dict[str, Any] | None = None) -> Any:
    rule: dict[str, Any] = {"if": {"properties": {"type": {"const": kind}}}, "then": then}
    if otherwise is not None:
        rule["else"] = otherwise
    return rule


def _required(field: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": [field], "properties": {field: schema}}


class CaseEventIn(Strict):
    """An upstream fact about a case. Which fields apply depends on `type`."""

    # The rules of `_fields_for_type`, stated in the document so a client (or a fuzzer) that
    # follows it is not refused.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _when_type(
                    "promise_to_pay",
                    _required("promised_date", {"type": "string", "format": "date"}),
                ),
                _when_type(
                    "hold",
                    _required("hold", {"enum": list(get_args(HoldKind))}),
                    {"properties": {"hold": {"type": "null"}}},
                ),
                _when_type(
                    "close",
                    _required("reason", {"enum": ["paid", "settled", "written_off", "other"]}),
                ),
            ]
        }
    )

    type: Literal[
        "payment_received", "promise_to_pay", "dispute", "hold", "release", "close", "cease"
    ]
    amount: Amount | None = None
    full: bool = True
    promised_date: Date | None = None
    hold: HoldKind | None = None
    reason: Literal["paid", "settled", "written_off", "other"] | None = None
    note: Annotated[Text, Field(max_length=500)] | None = None

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
