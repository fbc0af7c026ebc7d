"""Delivery status notifications (RFC 3464) read into per-recipient outcomes. Pure parsing, no I/O.

A bounce report is `multipart/report; report-type=delivery-status`: a human-readable part, a
`message/delivery-status` part (one block of per-message fields, then one block per recipient with
Action, Status, Diagnostic-Code…) and usually the returned message or its headers. Real reports
differ in detail (header case, folding, `5.0.0` with the real code only in the diagnostic, the
original as `message/rfc822` or `text/rfc822-headers`), so every field is read leniently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import parsedate_to_datetime

from channels.events import DeliveryEventType

E = DeliveryEventType

# An RFC 3463 enhanced status code anywhere in free text (diagnostics, plain-text bounces).
STATUS_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")

# Action → event, for reports whose Status does not decide it (RFC 3464 §2.3.3).
ACTIONS: dict[str, DeliveryEventType] = {
    "failed": E.BOUNCED,
    "delayed": E.DEFERRED,
    "delivered": E.DELIVERED,
    "expanded": E.DELIVERED,
    "relayed": E.SENT,
}


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    """One per-recipient block of a report."""

    recipient: str
    action: str
    status: str
    diagnostic: str | None = None
    remote_mta: str | None = None
    last_attempt: datetime | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """A parsed delivery-status report."""

    reporting_mta: str | None
    recipients: list[RecipientStatus]
    original_message_id: str | None  # of the message the report is about, without <>


def is_report(mail: Message) -> bool:
    """Whether a mail is an RFC 3464 delivery-status report."""
    return (
        mail.get_content_type() == "multipart/report"
        and str(mail.get_param("report-type", "")).lower() == "delivery-status"
    )


def parse(mail: EmailMessage) -> Report | None:
    """The report carried by `mail`, or None if it is not a delivery-status report."""
    if not is_report(mail):
        return None
    status_part = original = None
    for part in mail.iter_parts():
        kind = part.get_content_type()
        if kind == "message/delivery-status" and status_part is None:
            status_part = part
        elif kind in ("text/rfc822-headers", "message/rfc822") and original is None:
            original = part
    if status_part is None:
        return None
    blocks = _blocks(status_part)
    if not blocks:
        return None
    per_message, per_recipient = blocks[0], blocks[1:]
    recipients = [_recipient(b) for b in per_recipient if _field(b, "Final-Recipient", "Action")]
    return Report(
        reporting_mta=_value(_field(per_message, "Reporting-MTA")),
        recipients=recipients,
        original_message_id=_original_message_id(original),
    )


def outcome(action: str, status: str) -> tuple[DeliveryEventType, str | None]:
    """The normalized event and reject reason for one recipient's Action and Status."""
    action = action.lower()
    klass = status[:1]
    if action == "failed" or (not action and klass == "5"):
        # A report that gave up after 4.x.x retries (expired in the queue) is a bounce, but it
        # says nothing about the address itself.
        return E.BOUNCED, "timed_out" if klass == "4" else reject_reason(status)
    if action in ACTIONS:
        return ACTIONS[action], None
    return {"4": E.DEFERRED, "2": E.DELIVERED}.get(klass, E.UNKNOWN), None


def reject_reason(status: str) -> str:
    """anymail-style reject reason for a permanent failure's status code.

    5.1.x is about the address (no such user, no such domain): the address is `invalid`. 5.7.x is
    policy (spam block, authentication): our sending was `blocked`, the address may be fine.
    """
    if status.startswith("5.1."):
        return "invalid"
    if status.startswith("5.7."):
        return "blocked"
    return "bounced"


def find_status(text: str | None) -> str | None:
    """The first enhanced status code (x.y.z) in free text, if any."""
    match = STATUS_RE.search(text or "")
    return ".".join(match.groups()) if match else None


def plain_outcome(text: str) -> tuple[DeliveryEventType, str | None, str | None]:
    """For a bounce that is not an RFC 3464 report (qmail and friends): (event, reason, status)."""
    status = find_status(text)
    if status is None or status[0] == "2":
        return E.UNKNOWN, None, status
    event, reason = outcome("failed" if status[0] == "5" else "", status)
    return event, reason, status


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [b for b in payload if isinstance(b, Message) and len(b)]
    # Some generators leave the part unparsed: split it into header blocks ourselves.
    chunks = re.split(r"\r?\n[ \t]*\r?\n", _text(part))
    parsed = [HeaderParser().parsestr(chunk.strip() + "\n") for chunk in chunks if chunk.strip()]
    return [b for b in parsed if len(b)]


def _field(block: Message, *names: str) -> str | None:
    for name in names:
        value = block.get(name)
        if value is not None:
            return " ".join(str(value).split())
    return None


def _value(field: str | None) -> str | None:
    """`rfc822; jane@example.com` → `jane@example.com` (the type prefix dropped)."""
    if not field:
        return None
    _, _, value = field.partition(";")
    return (value or field).strip().strip("<>") or None


def _recipient(block: Message) -> RecipientStatus:
    diagnostic = _field(block, "Diagnostic-Code")
    status = find_status(_field(block, "Status")) or ""
    # Many MTAs report 5.0.0 / 4.0.0 and put the remote server's precise code in the diagnostic.
    precise = find_status(diagnostic.partition(";")[2] if diagnostic else None)
    if precise and (not status or (status.endswith(".0.0") and precise[0] == status[0])):
        status = precise
    return RecipientStatus(
        recipient=_value(_field(block, "Final-Recipient", "Original-Recipient")) or "",
        action=(_field(block, "Action") or "").lower(),
        status=status,
        diagnostic=(diagnostic.partition(";")[2].strip() or diagnostic) if diagnostic else None,
        remote_mta=_value(_field(block, "Remote-MTA")),
        last_attempt=_date(_field(block, "Last-Attempt-Date")),
    )


def _original_message_id(part: Message | None) -> str | None:
    if part is None:
        return None
    headers: Message | None = None
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            headers = inner[0]
    else:
        headers = HeaderParser().parsestr(_text(part))
    value = headers.get("Message-ID") if headers is not None else None
    if not value:
        return None
    return str(value).strip().strip("<>") or None


def _text(part: Message) -> str:
    raw = part.get_payload(decode=True)
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
