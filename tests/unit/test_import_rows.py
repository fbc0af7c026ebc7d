"""CSV rows of `reminder-gateway import` as the API's request bodies, and problems named by the
column they came from."""

from __future__ import annotations

from gateway.schemas import CaseIn, ReminderIn
from gateway.services.import_rows import header_problems, parse_case, parse_reminder

ROW = {
    "case_ref": "C-1",
    "preset": "US-RegF",
    "debtor_name": " Jane Doe ",
    "phone": "+14155550123; +14155550124",
    "email": "",
    "address_line1": "350 5th Ave",
    "postal_code": "10118",
    "country": "US",
    "amount": "420.50",
    "currency": "USD",
    "due_date": "2026-10-01",
    "days_past_due": "52",
    "account_number": "4111 1111 1111 1234",
    "sol_expired": "yes",
}


def test_a_row_is_the_body_the_api_takes() -> None:
    case_ref, case = parse_case(ROW, 2)
    assert case_ref == "C-1" and isinstance(case, CaseIn)
    assert case.debtor.name == "Jane Doe"
    assert [c.address for c in case.contacts] == ["+14155550123", "+14155550124"]
    assert case.debtor.postal_address is not None
    assert case.debtor.postal_address.lines == ["350 5th Ave"]
    assert case.debt.days_past_due == 52 and case.debt.sol_expired is True


def test_problems_name_the_column_and_the_line() -> None:
    row = {**ROW, "debtor_name": "", "phone": "+1415", "email": "not-an-email", "amount": "x"}
    row |= {"sol_expired": "perhaps", "country": "UK"}
    _, problems = parse_case(row, 7)
    assert isinstance(problems, list)
    assert {p.row for p in problems} == {7}
    assert {p.column for p in problems} == {
        "debtor_name",
        "phone",
        "email",
        "amount",
        "sol_expired",
        "country",
    }


def test_a_reminder_row_takes_its_template_variables_from_data_columns() -> None:
    reminder = parse_reminder(
        {
            "case_ref": "C-1",
            "template": "first_notice",
            "channel": "sms",
            "idempotency_key": "k-1",
            "data.note": "hello",
            "to": "",
        },
        2,
    )
    assert isinstance(reminder, ReminderIn)
    assert reminder.data == {"note": "hello"} and reminder.to is None
    problems = parse_reminder({"case_ref": "C 1", "template": "x", "channel": "fax"}, 3)
    assert isinstance(problems, list)
    assert {p.column for p in problems} == {"case_ref", "channel", "idempotency_key"}


def test_a_header_is_checked_for_unknown_repeated_and_missing_columns() -> None:
    problems = header_problems(["case_ref", "case_ref", "colour", "data.x"], "cases")
    assert {(p.column, p.code) for p in problems} >= {
        ("case_ref", "repeated_column"),
        ("colour", "unknown_column"),
        ("data.x", "unknown_column"),
        ("preset", "missing_column"),
    }
    assert (
        header_problems(
            ["case_ref", "template", "channel", "idempotency_key", "data.x"], "reminders"
        )
        == []
    )
