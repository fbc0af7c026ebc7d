"""Parsing returning mail: RFC 3464 reports from real MTAs, auto-replies, and the debtor's text."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from channels.email import dsn
from channels.email.inbound_mail import auto_reply_reason, read_reply, strip_quoted
from channels.events import DeliveryEventType as E

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dsn"
VALUES = {
    "VERP": "bounce+019a6f3c2b1d4e5f60718293a4b5.0123456789abcdef@bounces.collector.example",
    "MESSAGE_ID": "176276604123.1234.987654321@collector.example",
    "RCPT": "jane@example.com",
    "FROM": "jane.doe@work.example",
    "REPLY_TO": "reply+1.0123456789abcdef@replies.collector.example",
}


def fixture(name: str, **values: str) -> EmailMessage:
    text = (FIXTURES / name).read_text()
    for key, value in {**VALUES, **values}.items():
        text = text.replace("{{" + key + "}}", value)
    mail = email.message_from_string(text, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


@pytest.mark.parametrize(
    ("name", "action", "status", "event", "reason", "diagnostic"),
    [
        ("postfix_5.1.1.eml", "failed", "5.1.1", E.BOUNCED, "invalid", "User unknown"),
        ("exchange_5.1.10.eml", "failed", "5.1.10", E.BOUNCED, "invalid", "RecipientNotFound"),
        ("gmail_5.1.1.eml", "failed", "5.1.1", E.BOUNCED, "invalid", "does not exist"),
        # Status 5.0.0, the precise 5.7.1 only in the diagnostic: a block, not a bad address.
        ("postfix_5.7.1_blocked.eml", "failed", "5.7.1", E.BOUNCED, "blocked", "spamhaus"),
        ("postfix_4.4.1_delayed.eml", "delayed", "4.4.1", E.DEFERRED, None, "timed out"),
    ],
)
def test_reports_from_real_mtas(
    name: str, action: str, status: str, event: E, reason: str | None, diagnostic: str
) -> None:
    report = dsn.parse(fixture(name))
    assert report is not None
    [rcpt] = report.recipients
    assert (rcpt.recipient, rcpt.action, rcpt.status) == ("jane@example.com", action, status)
    assert diagnostic in (rcpt.diagnostic or "")
    assert "  " not in (rcpt.diagnostic or ""), "folded lines are joined"
    assert dsn.outcome(rcpt.action, rcpt.status) == (event, reason)
    assert report.original_message_id == VALUES["MESSAGE_ID"]
    assert report.reporting_mta


def test_gmail_report_carries_the_last_attempt_time_and_remote_mta() -> None:
    report = dsn.parse(fixture("gmail_5.1.1.eml"))
    assert report is not None
    [rcpt] = report.recipients
    assert rcpt.last_attempt is not None and rcpt.last_attempt.isoformat().startswith(
        "2026-11-10T09:21:55"
    )
    assert rcpt.remote_mta and rcpt.remote_mta.startswith("gmail-smtp-in.l.google.com")


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        ("failed", "5.1.1", (E.BOUNCED, "invalid")),
        ("failed", "5.2.2", (E.BOUNCED, "bounced")),
        ("failed", "5.7.26", (E.BOUNCED, "blocked")),
        ("failed", "", (E.BOUNCED, "bounced")),
        # Given up after retrying a temporary failure: bounced, but nothing wrong with the address.
        ("failed", "4.4.7", (E.BOUNCED, "timed_out")),
        ("delayed", "4.2.2", (E.DEFERRED, None)),
        ("delivered", "2.0.0", (E.DELIVERED, None)),
        ("relayed", "2.0.0", (E.SENT, None)),
        ("", "5.1.1", (E.BOUNCED, "invalid")),
        ("", "4.0.0", (E.DEFERRED, None)),
        ("whatever", "", (E.UNKNOWN, None)),
    ],
)
def test_outcome_table(action: str, status: str, expected: tuple[E, str | None]) -> None:
    assert dsn.outcome(action, status) == expected


def test_mail_that_is_not_a_report_is_none() -> None:
    assert dsn.parse(fixture("plain_reply.eml")) is None
    assert dsn.parse(fixture("ooo_autoreply.eml")) is None


def test_plain_text_bounces_by_their_status_code() -> None:
    qmail = "Hi. This is the qmail-send program.\n<jane@example.com>:\n550 5.1.1 no mailbox here\n"
    assert dsn.plain_outcome(qmail) == (E.BOUNCED, "invalid", "5.1.1")
    assert dsn.plain_outcome("temporary problem 4.2.0, retrying")[0] is E.DEFERRED
    assert dsn.plain_outcome("no code in here, version 1.2.3.4")[0] is E.UNKNOWN


def test_out_of_office_is_an_auto_reply() -> None:
    mail = fixture("ooo_autoreply.eml")
    assert auto_reply_reason(mail) == "auto-submitted:auto-replied"
    reply = read_reply(mail, "jane@example.com")
    assert reply.auto_reply == "auto-submitted:auto-replied"
    assert "out of the office until Friday" in reply.text


def test_a_real_reply_is_not_an_auto_reply_and_loses_the_quote() -> None:
    mail = fixture("plain_reply.eml")
    reply = read_reply(mail, "jane.doe@work.example")
    assert reply.auto_reply is None
    assert reply.sender == "jane.doe@work.example"
    assert reply.subject == "Re: About your account ending 1234"
    assert reply.in_reply_to == VALUES["MESSAGE_ID"]
    assert reply.text.startswith("Hello,") and "Please stop" in reply.text
    assert "wrote:" not in reply.text and "$420.50" not in reply.text


def headers(**values: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "jane@example.com"
    mail["Subject"] = values.pop("Subject", "Re: your account")
    for name, value in values.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("text")
    return mail


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"Auto_Submitted": "auto-generated"}, "auto-submitted:auto-generated"),
        (
            {"Auto_Submitted": "auto-replied; owner-email=jane@example.com"},
            "auto-submitted:auto-replied",
        ),
        ({"X_Autoreply": "yes"}, "x-autoreply"),
        ({"X_Autorespond": "Out of office"}, "x-autorespond"),
        ({"Precedence": "bulk"}, "precedence:bulk"),
        ({"Precedence": "auto_reply"}, "precedence:auto_reply"),
        ({"Subject": "Out of Office: back on Monday"}, "subject"),
        ({"Subject": "Automatic reply: About your account"}, "subject"),
        ({"Subject": "自动回复: 关于您的账户"}, "subject"),
        ({"Auto_Submitted": "no"}, None),
        ({"Subject": "Re: I am out of office money, can we talk"}, None),
        ({"Precedence": "first-class"}, None),
    ],
)
def test_auto_reply_signals(given: dict[str, str], reason: str | None) -> None:
    assert auto_reply_reason(headers(**given)) == reason


def test_the_null_sender_marks_a_machine() -> None:
    assert auto_reply_reason(headers(), "<>") == "null-sender"
    assert auto_reply_reason(headers(), "jane@example.com") is None


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("I paid.\n\n> Dear Jane\n> pay now\n", "I paid."),
        ("Will pay Friday\n\nOn Mon, 9 Nov 2026, Acme <x@y> wrote:\n> old\n", "Will pay Friday"),
        (
            "Not my debt\n\nFrom: Acme Collections <r@c.example>\nSent: Monday\nTo: me\n\nold text",
            "Not my debt",
        ),
        ("下周五还\n\n在 2026年11月10日 上午10:14，Acme 写道：\n> 您好", "下周五还"),
        ("> only a quote", "> only a quote"),
    ],
)
def test_strip_quoted(text: str, kept: str) -> None:
    assert strip_quoted(text) == kept
