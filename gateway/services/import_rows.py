"""The CSV columns of `reminder-gateway import`, and how a row becomes the body the API takes.

A row is turned into the same request models the API validates (`CaseIn`, `ReminderIn`), so an
import accepts exactly what `PUT /v1/cases/{case_ref}` and `POST /v1/reminders` accept, and a
problem is reported against the column it came from. Empty cells are absent values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.schemas import CaseIn, ReminderIn

# Several phone numbers or email addresses of one debtor go in one cell, separated by ";".
MANY = ";"

CASE_COLUMNS: dict[str, str] = {
    "case_ref": "required; upstream's id of the case (letters, digits, . _ : -)",
    "preset": "required; US-RegF, UK-FCA, CN, EU or an operator's preset",
    "debtor_name": "required; the debtor's full name",
    "debtor_first_name": "optional",
    "locale": "en (default) or zh-CN",
    "timezone": "optional IANA zone the debtor stated, e.g. America/Chicago",
    "collector_role": "first_party (default) or third_party",
    "phone": "E.164 numbers, several separated by ;",
    "email": "email addresses, several separated by ;",
    "address_line1": "postal address: street lines 1 to 3",
    "address_line2": "",
    "address_line3": "",
    "city": "",
    "region": "state, province or county (a US state is found from the ZIP code when empty)",
    "postal_code": "",
    "country": "ISO 3166 two-letter code; required with an address",
    "amount": "required; e.g. 120.50",
    "currency": "required; ISO 4217, e.g. USD",
    "due_date": "required; YYYY-MM-DD",
    "days_past_due": "required; 0 or more",
    "account_number": "required; 4 to 34 letters, digits, spaces or -",
    "sol_expired": "true when the debt is time-barred (default false)",
}
CASE_REQUIRED: tuple[str, ...] = ("case_ref", "preset", "debtor_name", "amount", "currency")
CASE_REQUIRED += ("due_date", "days_past_due", "account_number")

REMINDER_COLUMNS: dict[str, str] = {
    "case_ref": "required; a case already imported or created by the API",
    "template": "required; a template key, e.g. first_notice",
    "channel": "required; sms, email or letter",
    "idempotency_key": "required; unique per reminder: a re-run of the file sends nothing twice",
    "to": "optional; which of the case's addresses (default: the case's first of the channel)",
    "not_before": "optional date-time with offset, e.g. 2026-12-07T09:00:00+00:00",
    "expires_at": "optional date-time with offset",
    "data.NAME": "any number of columns: template variables (data.NAME → NAME)",
}
REMINDER_REQUIRED = ("case_ref", "template", "channel", "idempotency_key")
_ADDRESS = ("address_line1", "address_line2", "address_line3", "city", "region", "postal_code")
_DEBT = ("amount", "currency", "due_date", "days_past_due", "account_number", "sol_expired")
_TRUE, _FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n", ""}


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with one row (or, with `row` 0, with the file), by column."""

    row: int  # the line of the file, the header being line 1
    column: str
    code: str
    message: str


def header_problems(columns: Sequence[str], kind: str) -> list[Problem]:
    """Unknown, repeated and missing columns of a file's header."""
    known, required = (
        (CASE_COLUMNS, CASE_REQUIRED) if kind == "cases" else (REMINDER_COLUMNS, REMINDER_REQUIRED)
    )
    problems = [
        Problem(1, c, "unknown_column", f"unknown column {c!r}; known: {', '.join(known)}")
        for c in columns
        if c not in known and not (kind == "reminders" and c.startswith("data.") and len(c) > 5)
    ]
    problems += [
        Problem(1, c, "repeated_column", f"column {c!r} appears twice")
        for c in sorted({c for c in columns if list(columns).count(c) > 1})
    ]
    problems += [
        Problem(1, c, "missing_column", f"required column {c!r} is missing")
        for c in required
        if c not in columns
    ]
    return problems


def _cells(row: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v.strip() for k, v in row.items() if k is not None and v is not None and v.strip()}


def case_body(row: Mapping[str, str | None]) -> tuple[str, dict[str, Any]]:
    """(case_ref, the `PUT /v1/cases/{case_ref}` body) of a row of a cases file."""
    cells = _cells(row)
    debtor: dict[str, Any] = {"name": cells.get("debtor_name", "")}
    for column, field in (("debtor_first_name", "first_name"), ("locale", "locale")):
        if column in cells:
            debtor[field] = cells[column]
    if "timezone" in cells:
        debtor["timezone"] = cells["timezone"]
    if any(c in cells for c in (*_ADDRESS, "country")):
        lines = [
            cells[c] for c in ("address_line1", "address_line2", "address_line3") if c in cells
        ]
        address = {"lines": lines, "country": cells.get("country", "")}
        address |= {c: cells[c] for c in ("city", "region", "postal_code") if c in cells}
        debtor["postal_address"] = address
    debt: dict[str, Any] = {c: cells[c] for c in _DEBT if c in cells and c != "sol_expired"}
    if "sol_expired" in cells:
        flag = cells["sol_expired"].lower()
        debt["sol_expired"] = True if flag in _TRUE else False if flag in _FALSE else flag
    contacts = [
        {"channel": channel, "address": address.strip()}
        for column, channel in (("phone", "sms"), ("email", "email"))
        for address in cells.get(column, "").split(MANY)
        if address.strip()
    ]
    body: dict[str, Any] = {"debtor": debtor, "preset": cells.get("preset", ""), "debt": debt}
    body["contacts"] = contacts
    if "collector_role" in cells:
        body["collector_role"] = cells["collector_role"]
    return cells.get("case_ref", ""), body


def reminder_body(row: Mapping[str, str | None]) -> dict[str, Any]:
    """The `POST /v1/reminders` body of a row of a reminders file."""
    cells = _cells(row)
    body: dict[str, Any] = {c: cells[c] for c in REMINDER_COLUMNS if c in cells}
    body["data"] = {k[5:]: v for k, v in cells.items() if k.startswith("data.")}
    return body


def _column(loc: tuple[Any, ...], kind: str, body: dict[str, Any]) -> str:
    """The CSV column a validation error's location came from."""
    if kind == "reminders":
        return (
            f"data.{loc[1]}"
            if loc[:1] == ("data",) and len(loc) > 1
            else str(loc[0] if loc else "")
        )
    match loc:
        case ("debtor", "name" | "first_name" as field, *_):
            return f"debtor_{field}"
        case ("debtor", "postal_address", "lines", int(n), *_):
            return f"address_line{n + 1}"
        case ("debtor", "postal_address", "lines", *_):
            return "address_line1"
        case ("debtor", "postal_address", str(field), *_):
            return field
        case ("debtor", "postal_address", *_):
            return "address_line1"
        case ("debtor", str(field), *_):
            return field
        case ("debt", str(field), *_):
            return field
        case ("contacts", int(n), *_) if n < len(body.get("contacts", [])):
            return "phone" if body["contacts"][n]["channel"] == "sms" else "email"
        case ("contacts", *_):
            return "phone"
        case (str(field), *_):
            return field
    return ""


def parse(model: type[BaseModel], body: dict[str, Any], row: int, kind: str) -> Any:
    """`model` validated from `body`, or the list of the row's problems."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        return [
            Problem(row, _column(tuple(e["loc"]), kind, body), e["type"], e["msg"])
            for e in exc.errors(include_url=False, include_input=False)
        ]


def parse_case(row: Mapping[str, str | None], line: int) -> tuple[str, CaseIn | list[Problem]]:
    case_ref, body = case_body(row)
    return case_ref, parse(CaseIn, body, line, "cases")


def parse_reminder(row: Mapping[str, str | None], line: int) -> ReminderIn | list[Problem]:
    parsed: ReminderIn | list[Problem] = parse(ReminderIn, reminder_body(row), line, "reminders")
    return parsed
