"""Build the MIME message for one reminder email: text + HTML alternatives and the headers."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from channels.base import Outgoing


def build(message: Outgoing, *, sender: str, sender_name: str, domain: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = formataddr((sender_name, sender))
    mail["To"] = message.to
    mail["Subject"] = message.subject or ""
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = make_msgid(idstring=message.message_id, domain=domain)
    for name, value in message.headers.items():
        mail[name] = value
    mail.set_content(message.body, charset="utf-8")
    if message.html:
        mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return mail
