"""A Lob-compatible letters server for tests: `POST /v1/letters` as Lob documents it, and its
signed tracking webhooks posted to the gateway's receipt endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from gateway.settings import Settings
from tests.support import ApiClient

KEY = "test_0123456789abcdef"
SECRET = "lob-webhook-secret"


class FakeLob:
    """Lob's `POST /v1/letters` as documented (basic auth, multipart, Idempotency-Key), and its
    signed tracking webhooks."""

    def __init__(self) -> None:
        self.letters: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, dict[str, Any]] = {}
        self.behaviour: Any = None  # (fields) → a response instead of creating the letter
        self.server: Any = None
        self.app = web.Application()
        self.app.router.add_post("/v1/letters", self.create)

    def error(self, status: int, code: str, message: str, **headers: str) -> web.Response:
        body = {"error": {"message": message, "status_code": status, "code": code}}
        return web.json_response(body, status=status, headers=headers)

    async def create(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return self.error(401, "unauthorized", "Your API key is not valid.")
        key = request.headers.get("Idempotency-Key")
        if not key:
            return self.error(422, "invalid", "this test double wants an Idempotency-Key")
        if key in self.by_key:  # Lob answers a repeated key with the letter it already made
            return web.json_response(self.by_key[key]["response"])
        assert request.content_type == "multipart/form-data"
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField) and upload.content_type == "application/pdf"
        pdf = upload.file.read()
        assert pdf.startswith(b"%PDF-")
        fields = {k: str(v) for k, v in form.items() if k != "file"}
        for required in ("to[name]", "to[address_line1]", "from[name]", "from[address_line1]"):
            assert fields.get(required), required
        assert fields["color"] == "false" and fields["double_sided"] in ("true", "false")
        assert fields["address_placement"] == "top_first_page"
        if self.behaviour is not None and (answer := self.behaviour(fields)) is not None:
            return answer
        letter_id = f"ltr_{uuid.uuid4().hex[:16]}"
        response = {"id": letter_id, "object": "letter", "expected_delivery_date": "2026-12-02"}
        self.letters[letter_id] = self.by_key[key] = {
            "fields": fields,
            "pdf": pdf,
            "key": key,
            "response": response,
        }
        return web.json_response(response)

    def signed(
        self, letter_id: str, event: str, *, secret: str = SECRET, at: float | None = None
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {
                "id": f"evt_{uuid.uuid4().hex[:16]}",
                "body": {"id": letter_id, "object": "letter", "metadata": {}},
                "reference_id": letter_id,
                "event_type": {
                    "id": f"letter.{event}",
                    "resource": "letters",
                    "object": "event_type",
                },
                "date_created": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "object": "event",
            }
        ).encode()
        stamp = str(int((time.time() if at is None else at) * 1000))  # epoch milliseconds
        mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"Lob-Signature": mac, "Lob-Signature-Timestamp": stamp}
        return body, {**headers, "Content-Type": "application/json"}


async def post_event(api: ApiClient, body: bytes, headers: dict[str, str]) -> Any:
    return await api.post("/v1/providers/lob/receipts", data=body, key=None, headers=headers)


class WithLob:
    """Tests of a class deriving from this one send letters through a `FakeLob` (fixture `lob`),
    with the gateway set up for it."""

    @pytest.fixture
    async def lob(self, aiohttp_server: Any) -> Any:
        fake = FakeLob()
        fake.server = await aiohttp_server(fake.app)
        return fake

    @pytest.fixture
    def settings(self, settings: Settings, lob: FakeLob) -> Settings:
        return settings.with_(
            letter_providers=["lob"],
            lob_base_url=str(lob.server.make_url("/")).rstrip("/"),
            lob_api_key=KEY,
            lob_webhook_secret=SECRET,
        )
