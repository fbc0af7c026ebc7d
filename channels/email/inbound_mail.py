"""Replies arriving by email: who wrote, what they wrote, and whether a machine wrote it. Pure.

An auto-reply (out of office, "we received your message") must never be read as the debtor's own
words: a vacation notice saying "I'm away until Friday" is not a promise to pay on Friday. RFC 3834
asks responders to mark themselves (`Auto-Submitted`); older ones use vendor headers or
`Precedence`, and some only give themselves away by their subject, which is the weakest hint and is
matched only at the start of the subject.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses

AUTORESPONDER_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Autoreply-From")
BULK_PRECEDENCE = {"auto_reply", "bulk", "junk"}
AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|ooo\b|automatic reply|auto(matic)?[- ]?(reply|response)|auto:"
    r"|autoresponder|abwesenheitsnotiz|r[ée]ponse automatique|自动回复|自動回覆|自動返信)",
    re.IGNORECASE,
)
# Where the quoted reminder starts in a reply, for the usual mail clients and languages.
QUOTE_START = re.compile(
    r"^(on\b.+\bwrote:|le\b.+\ba [ée]crit ?:|am\b.+\bschrieb\b.+:|-{2,} ?original message ?-{2,}"
    r"|_{8,}|在.+写道[:：]?|.+于.+写道[:：]?|-{2,} ?原始邮件 ?-{2,})$",
    re.IGNORECASE,
)
MAX_BODY = 10_000  # characters kept from a reply: enough for any debtor's message


@dataclass(frozen=True, slots=True)
class Reply:
    """What the gateway keeps from a reply mail."""

    sender: str
    subject: str
    text: str
    message_id: str | None
    in_reply_to: str | None
    auto_reply: str | None  # why it is taken for an automatic reply, or None


def auto_reply_reason(mail: EmailMessage, envelope_from: str | None = None) -> str | None:
    """Why this mail looks machine-written (`auto-submitted:auto-replied`…), or None."""
    submitted = str(mail.get("Auto-Submitted", "")).strip().lower()
    if submitted and not submitted.startswith("no"):
        return f"auto-submitted:{submitted.split(';')[0].strip()}"
    for name in AUTORESPONDER_HEADERS:
        if name in mail:
            return name.lower()
    precedence = str(mail.get("Precedence", "")).strip().lower()
    if precedence in BULK_PRECEDENCE:
        return f"precedence:{precedence}"
    if envelope_from is not None and envelope_from.strip("<> ") == "":
        # The null sender is reserved for mail that must not be answered: notices, not people.
        return "null-sender"
    if AUTO_SUBJECT.match(str(mail.get("Subject", ""))):
        return "subject"
    return None


def read_reply(mail: EmailMessage, envelope_from: str | None = None) -> Reply:
    """The sender (From, else the envelope sender), subject, new text and threading headers."""
    addresses = [addr for _, addr in getaddresses([str(mail.get("From", ""))]) if "@" in addr]
    sender = addresses[0] if addresses else (envelope_from or "").strip("<>")
    return Reply(
        sender=sender,
        subject=" ".join(str(mail.get("Subject", "")).split()),
        text=strip_quoted(body_text(mail))[:MAX_BODY],
        message_id=_msgid(mail.get("Message-ID")),
        in_reply_to=_msgid(mail.get("In-Reply-To")),
        auto_reply=auto_reply_reason(mail, envelope_from),
    )


def body_text(mail: EmailMessage) -> str:
    """The plain-text body, or the HTML body reduced to text."""
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = re.sub(r"(?is)<(script|style|blockquote)\b.*?</\1>", "", content)
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content)
        content = html.unescape(re.sub(r"<[^>]+>", "", content))
    return content


def strip_quoted(text: str) -> str:
    """The reply without the quoted message under it (`> …` lines, "On … wrote:" and below)."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        # Clients wrap a long "On <date>, <name> <address> wrote:" over two lines.
        joined = f"{stripped} {lines[i + 1].strip()}" if i + 1 < len(lines) else stripped
        if QUOTE_START.match(stripped) or (
            stripped.lower().startswith("on ") and QUOTE_START.match(joined)
        ):
            break
        # Outlook's quoted header block: "From: …" followed by "Sent: …" / "Date: …".
        if (
            stripped.lower().startswith("from:")
            and i + 1 < len(lines)
            and re.match(r"(?i)^(sent|date|发送时间|日期)[:：]", lines[i + 1].strip())
        ):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip() or text.strip()


def _msgid(value: object) -> str | None:
    text = str(value or "").strip()
    return text.strip("<>") or None
