"""A local SMTP server that keeps every mail it receives as a file, for development and tests.

Files are written atomically (temporary name, then rename) into one folder, so the API process can
list them while the catcher writes. It runs on the caller's event loop.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class MailFolder:
    """An aiosmtpd handler that stores each message as `<folder>/<time>-<random>.eml`."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        name = f"{time.time_ns():020d}-{os.urandom(4).hex()}.eml"
        content = envelope.original_content or b""
        header = f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(header.encode() + content)
        tmp.rename(self.folder / name)
        return "250 Message accepted for delivery"


async def serve(folder: Path, host: str = "127.0.0.1", port: int = 2525) -> asyncio.Server:
    handler = MailFolder(folder)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SMTP(handler, hostname="catcher.local", data_size_limit=20 * 1024 * 1024),
        host,
        port,
    )


def list_mail(folder: Path, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first: envelope, headers and the text part of each caught mail."""
    if not folder.exists():
        return []
    files = sorted((p for p in folder.glob("*.eml")), reverse=True)[:limit]
    out = []
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        out.append(
            {
                "id": path.stem,
                "envelope_to": msg["X-Envelope-To"],
                "from": msg["From"],
                "to": msg["To"],
                "subject": msg["Subject"],
                "message_id": msg["Message-ID"],
                "text": text.get_content() if text is not None else None,
                "has_html": html is not None,
            }
        )
    return out
