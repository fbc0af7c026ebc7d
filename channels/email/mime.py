"""Build one reminder email as wire bytes: text + HTML alternatives, headers, 7-bit clean.

Written out directly rather than through `email.message.EmailMessage`, which costs about a
millisecond per mail in policy machinery (and aiosmtplib would serialise it again). The output is
plain RFC 5322 / 2045–2047: non-ASCII header text is RFC 2047 encoded (folded by
`email.header.Header`), bodies are base64 in UTF-8 with 76-character lines, lines end in CRLF.
Tests parse what comes out with the standard library's parser.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr

from channels.base import Outgoing


@dataclass(frozen=True, slots=True)
class Mail:
    data: bytes
    message_id: str  # without the angle brackets
    header_names: tuple[str, ...]


def _header_value(value: str) -> str:
    if value.isascii() and "\n" not in value and "\r" not in value:
        return value
    return Header(value.replace("\r", " ").replace("\n", " "), "utf-8", maxlinelen=76).encode()


def _address(name: str, address: str) -> str:
    return formataddr((name, address), charset="utf-8")


def _b64(text: str) -> bytes:
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")


def _part(content_type: str, text: str) -> bytes:
    head = f'Content-Type: {content_type}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    return head.encode() + _b64(text)


def build(message: Outgoing, *, sender: str, sender_name: str, domain: str) -> Mail:
    # The gateway's id comes last before the "@": bounce parsing and tests rely on finding it.
    message_id = f"{os.urandom(4).hex()}.{message.message_id}@{domain}"
    headers: list[tuple[str, str]] = [
        ("From", _address(sender_name, sender)),
        ("To", message.to),
        ("Subject", _header_value(message.subject or "")),
        ("Date", format_datetime(datetime.now(UTC))),
        ("Message-ID", f"<{message_id}>"),
        ("MIME-Version", "1.0"),
    ]
    headers += [(name, _header_value(value)) for name, value in message.headers.items()]
    if message.html:
        boundary = f"=_rg_{os.urandom(12).hex()}"
        headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                _part("text/plain", message.body),
                f"\r\n--{boundary}\r\n".encode(),
                _part("text/html", message.html),
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )
    else:
        headers.append(("Content-Type", 'text/plain; charset="utf-8"'))
        headers.append(("Content-Transfer-Encoding", "base64"))
        body = _b64(message.body)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode()
    return Mail(head + b"\r\n" + body, message_id, tuple(name for name, _ in headers))
