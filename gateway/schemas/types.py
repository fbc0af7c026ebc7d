"""Types shared by the API's request and response bodies.

Text a person or a system downstream reads (names, notes, keys) refuses control characters and
the Unicode bidirectional controls: a NUL truncates a C string, an escape sequence rewrites an
operator's terminal, and a right-to-left override makes "Jane Doe" display as something else in
a letter or a log (CVE-2021-42574, "Trojan Source"). `Line` is one line; `Text` also allows tabs
and line breaks. Times and dates are strings: `"at": 0` is a mistake, not 1970.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

Channel = Literal["sms", "email", "letter"]
Locale = Literal["en", "zh-CN"]
# Built-in presets are US-RegF, UK-FCA, CN and EU; operators may add their own (PRESETS_DIR).
Preset = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$")]
CollectorRole = Literal["first_party", "third_party"]
Ref = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]

# C0 and C1 controls and DEL; the Arabic letter mark, LRM/RLM, the line and paragraph separators,
# the embeddings and overrides U+202A–U+202E, the isolates U+2066–U+2069, and the BOM.
_BIDI = r"\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069\uFEFF"
_NOT_IN_LINE = rf"\u0000-\u001F\u007F-\u009F{_BIDI}"
_NOT_IN_TEXT = rf"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F{_BIDI}"
LINE_PATTERN = rf"^[^{_NOT_IN_LINE}]*$"
TEXT_PATTERN = rf"^[^{_NOT_IN_TEXT}]*$"
_LINE, _TEXT = re.compile(f"[{_NOT_IN_LINE}]"), re.compile(f"[{_NOT_IN_TEXT}]")


def _refuse(found: re.Match[str]) -> None:
    raise ValueError(
        f"character U+{ord(found.group()):04X} at position {found.start()} is not allowed: "
        "no control characters or bidirectional formatting characters"
    )


def _line(value: str) -> str:
    if found := _LINE.search(value):
        _refuse(found)
    return value


def _text(value: str) -> str:
    if found := _TEXT.search(value):
        _refuse(found)
    return value


Line = Annotated[str, AfterValidator(_line), Field(json_schema_extra={"pattern": LINE_PATTERN})]
Text = Annotated[str, AfterValidator(_text), Field(json_schema_extra={"pattern": TEXT_PATTERN})]


def _iso_text(kind: str, example: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str | date):  # a datetime is a date too (internal callers)
            return value
        raise ValueError(f"a {kind} is a string, e.g. {example}")

    return BeforeValidator(check)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone offset, e.g. 2026-11-23T09:00:00+00:00")
    return value


# A point in time: an RFC 3339 string with its offset.
DateTime = Annotated[
    datetime, _iso_text("date-time", "2026-11-23T09:00:00+00:00"), AfterValidator(_aware)
]
Date = Annotated[date, _iso_text("date", "2026-11-23")]


_AMOUNT = re.compile(r"\d{1,12}(\.\d{1,2})?")


def _amount_text(value: Any) -> Any:
    if isinstance(value, str) and not _AMOUNT.fullmatch(value):
        raise ValueError("an amount is up to 12 digits and 2 decimals, not negative, e.g. 420.50")
    return value


def _unsigned(value: Decimal) -> Decimal:
    if value.is_signed():  # ge=0 lets "-0" through; a negative zero is a sign error upstream
        raise ValueError("an amount is not negative, and not -0 either")
    return value


# Money: up to 12 digits and 2 decimals, as a string ("420.50", the exact form) or a number.
Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    BeforeValidator(_amount_text),
    AfterValidator(_unsigned),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\d{1,12}(\.\d{1,2})?$"},
                {"type": "number", "minimum": 0, "maximum": 999999999999, "multipleOf": 0.01},
            ]
        }
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
