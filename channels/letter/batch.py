"""Batch drop for a print house: each letter's PDF plus a CSV manifest, in a folder or over SFTP.

Layout of the drop folder (`LETTER_DROP_URL`, `file:///path` or `sftp://user@host:port/path`):

    <reference>.pdf    the letter, A4, recipient block in the window position
    <reference>.csv    its manifest: a header line and one row (UTF-8, RFC 4180, CRLF)
    .<name>.<random>.tmp   a file being written: never read these

`<reference>` is the gateway's message id, unique per letter. Every file is written under a
temporary dot-name and renamed when complete, and a letter's manifest is renamed into place only
after its PDF: **a manifest's presence means its PDF is complete and matches its `sha256`**. Poll
for `*.csv`, print, then move or delete both files. Each letter has its own manifest, so any number
of gateway workers can drop letters at once without sharing a file. A reference seen before is a
re-delivery of the same letter (a send retried after a lost answer) and must not be printed twice.

Manifest columns: reference, recipient_name, address_line_1 … address_line_6 (the lines printed in
the window, the city line and, abroad, the country name included; empty when unused), postal_code,
country, pages, pdf_file, sha256 (hex, of the PDF's bytes).

Over SFTP the server's host key is checked against `LETTER_DROP_KNOWN_HOSTS` (or the user's
`~/.ssh/known_hosts`); there is no way to switch the check off. One SSH connection per worker
process is kept open and re-opened after a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import os
import re
import secrets
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import unquote, urlsplit

import asyncssh

from channels.base import (
    Callback,
    Outgoing,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
)
from channels.events import DeliveryEvent, InboundMessage
from channels.letter.pdf import render

ADDRESS_COLUMNS = 6  # the intake schema allows at most six address lines
MANIFEST_COLUMNS = [
    "reference",
    "recipient_name",
    *(f"address_line_{n}" for n in range(1, ADDRESS_COLUMNS + 1)),
    "postal_code",
    "country",
    "pages",
    "pdf_file",
    "sha256",
]
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class DropTarget(Protocol):
    """Somewhere files appear atomically: whole under their final name, or not at all."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, name: str, content: bytes) -> None: ...


def _tmp_name(name: str) -> str:
    # Random per write: two processes re-dropping the same letter never share a temporary file.
    return f".{name}.{secrets.token_hex(6)}.tmp"


class FolderTarget:
    """A local (or mounted) folder."""

    def __init__(self, folder: Path):
        self.folder = folder

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    async def put(self, name: str, content: bytes) -> None:
        try:
            await asyncio.to_thread(self._write, name, content)
        except OSError as exc:
            raise TransientProviderError(f"batch: folder {type(exc).__name__}") from None

    def _write(self, name: str, content: bytes) -> None:
        tmp = self.folder / _tmp_name(name)
        try:
            with open(tmp, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())  # on disk before the name says it is complete
            os.replace(tmp, self.folder / name)
        finally:
            tmp.unlink(missing_ok=True)


class SftpTarget:
    """A folder on an SFTP server (asyncssh), host key verified."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        path: str,
        key_file: str = "",
        password: str = "",
        known_hosts: str = "",
        timeout_s: float = 30.0,
    ):
        self.host, self.port, self.username, self.path = host, port, username, path or "."
        self.timeout_s = timeout_s
        options: dict[str, Any] = {"username": username, "connect_timeout": timeout_s}
        # Only what is set is passed: asyncssh reads `known_hosts=None` as "do not verify".
        if known_hosts:
            options["known_hosts"] = known_hosts
        if key_file:
            options["client_keys"] = [key_file]
        if password:
            options["password"] = password
        self._options = options
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        return None  # connects on first use: a print house that is down must not stop a worker

    async def close(self) -> None:
        conn, self._conn, self._sftp = self._conn, None, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await conn.wait_closed()

    async def _client(self) -> asyncssh.SFTPClient:
        async with self._lock:
            if self._sftp is None:
                self._conn = await asyncssh.connect(self.host, self.port, **self._options)
                self._sftp = await self._conn.start_sftp_client()
                await self._sftp.makedirs(self.path, exist_ok=True)
            return self._sftp

    async def put(self, name: str, content: bytes) -> None:
        for attempt in (1, 2):
            reused = self._sftp is not None
            try:
                await asyncio.wait_for(self._put(name, content), self.timeout_s)
                return
            except asyncssh.HostKeyNotVerifiable:
                await self.close()
                raise PermanentProviderError(
                    "batch: sftp host key not trusted", provider_side=True
                ) from None
            except (asyncssh.PermissionDenied, asyncssh.SFTPPermissionDenied):
                await self.close()
                raise PermanentProviderError(
                    "batch: sftp access refused", provider_side=True
                ) from None
            except (TimeoutError, OSError, asyncssh.Error) as exc:
                await self.close()
                # A kept-alive connection the server has dropped meanwhile: one fresh try.
                if reused and attempt == 1:
                    continue
                raise TransientProviderError(f"batch: sftp {type(exc).__name__}") from None

    async def _put(self, name: str, content: bytes) -> None:
        sftp = await self._client()
        tmp, final = f"{self.path}/{_tmp_name(name)}", f"{self.path}/{name}"
        try:
            async with sftp.open(tmp, "wb") as handle:
                await handle.write(content)
            try:
                await sftp.posix_rename(tmp, final)  # atomic, replaces a re-dropped letter
            except asyncssh.SFTPOpUnsupported:
                # Plain SFTP v3 rename refuses an existing target: only a re-drop hits this.
                if await sftp.exists(final):
                    await sftp.remove(final)
                await sftp.rename(tmp, final)
        except Exception:
            # Not on cancellation (a timeout): a dead connection could hang the clean-up, and a
            # left-over dot-name .tmp file is ignored by the print house anyway.
            with contextlib.suppress(Exception):
                await sftp.remove(tmp)
            raise


def drop_target(
    url: str,
    *,
    key_file: str = "",
    password: str = "",
    known_hosts: str = "",
    timeout_s: float = 30.0,
) -> DropTarget:
    """The target a `LETTER_DROP_URL` names: `file:///path` or `sftp://user@host[:port]/path`."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return FolderTarget(Path(unquote(parts.path)))
    if parts.scheme == "sftp" and parts.hostname:
        if parts.password:
            raise ValueError("LETTER_DROP_URL: put the password in LETTER_DROP_PASSWORD")
        return SftpTarget(
            host=parts.hostname,
            port=parts.port or 22,
            username=unquote(parts.username) if parts.username else None,
            path=unquote(parts.path).rstrip("/") or ".",
            key_file=key_file,
            password=password,
            known_hosts=known_hosts,
            timeout_s=timeout_s,
        )
    raise ValueError("LETTER_DROP_URL: expected file:///path or sftp://user@host:port/path")


def manifest(message: Outgoing, pages: int, pdf_file: str, sha256: str) -> bytes:
    """The one-row CSV manifest of a letter."""
    postal = message.postal or {}
    # The lines as printed in the window (the place and, abroad, the country included), when the
    # gateway composed them; else the address lines as given.
    printed = postal.get("block") or postal.get("lines") or []
    lines = [str(line) for line in printed][:ADDRESS_COLUMNS]
    row = [
        message.message_id,
        message.recipient_name or "",
        *lines,
        *([""] * (ADDRESS_COLUMNS - len(lines))),
        postal.get("postal_code") or "",
        postal.get("country") or "",
        str(pages),
        pdf_file,
        sha256,
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(MANIFEST_COLUMNS)
    writer.writerow(row)
    return out.getvalue().encode("utf-8")


class BatchDropLetters:
    name: ClassVar[str] = "batch"
    channel: ClassVar[str] = "letter"

    def __init__(self, *, target: DropTarget):
        self.target = target

    async def start(self) -> None:
        await self.target.start()

    async def close(self) -> None:
        await self.target.close()

    async def send(self, message: Outgoing) -> SendResult:
        if not message.html:
            raise PermanentProviderError("a letter needs an HTML body")
        reference = message.message_id
        if not _SAFE_NAME.match(reference):
            raise PermanentProviderError("batch: message id is not a safe file name")
        pdf = await asyncio.to_thread(render, message.html)
        digest = hashlib.sha256(pdf.content).hexdigest()
        pdf_file = f"{reference}.pdf"
        # The PDF first: the manifest is the print house's signal that the letter is complete.
        await self.target.put(pdf_file, pdf.content)
        await self.target.put(f"{reference}.csv", manifest(message, pdf.pages, pdf_file, digest))
        return SendResult(
            reference,
            {"pages": pdf.pages, "file": pdf_file, "sha256": digest, "bytes": len(pdf.content)},
        )

    def verify(self, callback: Callback) -> None:
        raise NotImplementedError("the batch drop sends no callbacks")

    def parse_receipts(self, callback: Callback) -> list[DeliveryEvent]:
        return []

    def parse_inbound(self, callback: Callback) -> list[InboundMessage]:
        return []
