"""Mailgun as the SMTP relay: its signed event webhooks, posted to the API, move the messages the
`smtp` provider sent. Payloads are captured-looking fixtures, signed here as Mailgun signs."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from tests.conftest import make_settings
from tests.support import ApiClient, case_body, drain, reminder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mailgun"
KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    redis_client: Any,
    api_port: int,
    smtp_port: int,
) -> Settings:
    return make_settings(tmp_path, database_url, redis_url, api_port, smtp_port).with_(
        email_webhook_providers=["mailgun"], mailgun_webhook_signing_key=KEY
    )


def webhook(name: str, message_id: str, *, key: str = KEY) -> dict[str, Any]:
    text = (FIXTURES / f"{name}.json").read_text().replace("{{MESSAGE_ID}}", message_id)
    data = json.loads(text.replace("{{RCPT}}", "jane@example.com").replace("{{VERP}}", "x@y"))
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    data["signature"] = {"timestamp": timestamp, "token": token, "signature": signature}
    return data


async def sent_email(
    api: ApiClient, runtime: Any, smtp_server: Path, case_ref: str
) -> tuple[str, str]:
    await api.put(f"/v1/cases/{case_ref}", case_body())
    accepted = await api.post("/v1/reminders", reminder(case_ref, "email"))
    await drain(runtime)
    [path] = list(smtp_server.glob("*.eml"))
    mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return accepted.body["id"], str(mail["Message-ID"]).strip("<>")


async def test_mailgun_is_not_a_sending_provider(runtime: Any) -> None:
    assert "mailgun" in runtime.providers
    assert [p.name for p in runtime.providers_for("email")] == ["smtp"]


async def test_a_bad_signature_is_refused_and_changes_nothing(
    api: ApiClient, runtime: Any, smtp_server: Path
) -> None:
    message_id, ref = await sent_email(api, runtime, smtp_server, "C-M1")
    forged = webhook("failed_permanent", ref, key="key-guessed")
    got = await api.post("/v1/providers/mailgun/receipts", forged, key=None)
    assert got.status == 401 and got.body["error"]["code"] == "bad_signature"
    message = (await api.get(f"/v1/messages/{message_id}")).body
    assert message["state"] == "sent" and [e["type"] for e in message["events"]] == []
    case = (await api.get("/v1/cases/C-M1")).body
    assert {
        "channel": "email",
        "address": "jane@example.com",
        "status": "active",
        "role": "debtor",
    } in case["contacts"]


async def test_a_permanent_failure_bounces_the_message_and_invalidates_the_address(
    api: ApiClient, runtime: Any, smtp_server: Path
) -> None:
    message_id, ref = await sent_email(api, runtime, smtp_server, "C-M2")
    body = webhook("failed_permanent", ref)
    got = await api.post("/v1/providers/mailgun/receipts", body, key=None)
    assert got.status == 200 and got.body["new"] == 1
    again = await api.post("/v1/providers/mailgun/receipts", body, key=None)  # Mailgun retrying
    assert again.status == 200 and again.body["duplicate"] == 1
    message = (await api.get(f"/v1/messages/{message_id}")).body
    assert message["state"] == "bounced"
    assert [(e["type"], e["reject_reason"]) for e in message["events"]] == [("bounced", "invalid")]
    case = (await api.get("/v1/cases/C-M2")).body
    assert {
        "channel": "email",
        "address": "jane@example.com",
        "status": "invalid",
        "role": "debtor",
    } in case["contacts"]


async def test_delivered_then_opened(api: ApiClient, runtime: Any, smtp_server: Path) -> None:
    message_id, ref = await sent_email(api, runtime, smtp_server, "C-M3")
    for name in ("accepted", "delivered", "opened", "clicked"):
        got = await api.post("/v1/providers/mailgun/receipts", webhook(name, ref), key=None)
        assert got.status == 200
    message = (await api.get(f"/v1/messages/{message_id}")).body
    assert message["state"] == "delivered"
    assert [e["type"] for e in message["events"]] == ["queued", "delivered", "opened", "clicked"]


async def test_a_complaint_opts_the_address_out(
    api: ApiClient, runtime: Any, smtp_server: Path
) -> None:
    _, ref = await sent_email(api, runtime, smtp_server, "C-M4")
    got = await api.post("/v1/providers/mailgun/receipts", webhook("complained", ref), key=None)
    assert got.status == 200
    case = (await api.get("/v1/cases/C-M4")).body
    assert {
        "channel": "email",
        "address": "jane@example.com",
        "status": "opted_out",
        "role": "debtor",
    } in case["contacts"]
    kinds = [e["kind"] for e in (await api.get("/v1/cases/C-M4/timeline")).body["entries"]]
    assert kinds[-2:] == ["complained", "contact_opted_out"]
