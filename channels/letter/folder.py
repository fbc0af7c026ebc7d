"""The letters-folder vendor: each letter becomes a PDF plus a JSON sidecar in a folder.

This is the development vendor (and a simple drop for printers that collect files); the PDF is
written under a temporary name and renamed, so a collector never sees half a file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import ClassVar

from channels.base import Callback, Outgoing, PermanentProviderError, SendResult
from channels.events import DeliveryEvent, InboundMessage
from channels.letter.pdf import render


class FolderLetters:
    name: ClassVar[str] = "folder"
    channel: ClassVar[str] = "letter"

    def __init__(self, *, folder: Path):
        self.folder = folder

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    async def send(self, message: Outgoing) -> SendResult:
        if not message.html:
            raise PermanentProviderError("a letter needs an HTML body")
        pdf = await asyncio.to_thread(render, message.html)
        ref = f"LTR-{message.message_id}"
        target = self.folder / f"{ref}.pdf"
        tmp = self.folder / f".{ref}.pdf.tmp"
        await asyncio.to_thread(_write, tmp, target, pdf.content)
        sidecar = {
            "ref": ref,
            "message_id": message.message_id,
            "pages": pdf.pages,
            "bytes": len(pdf.content),
        }
        (self.folder / f"{ref}.json").write_text(json.dumps(sidecar))
        return SendResult(ref, {"pages": pdf.pages, "file": target.name, "bytes": len(pdf.content)})

    def verify(self, callback: Callback) -> None:
        raise NotImplementedError("the folder vendor sends no callbacks")

    def parse_receipts(self, callback: Callback) -> list[DeliveryEvent]:
        return []

    def parse_inbound(self, callback: Callback) -> list[InboundMessage]:
        return []


def _write(tmp: Path, target: Path, content: bytes) -> None:
    tmp.write_bytes(content)
    tmp.replace(target)
