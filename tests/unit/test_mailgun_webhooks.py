"""Mailgun webhooks: the signature scheme (freshness, token reuse) and the event mapping."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from channels.base import Callback, PermanentProviderError, SignatureInvalid
from channels.email.mailgun import MailgunWebhooks
from channels.events import DeliveryEventType as E
from tests.support import Clock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mailgun"
KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
MESSAGE_ID = "176276604123.1234.987654321@collector.example"
NOW = datetime(2026, 11, 10, 9, 14, 10, tzinfo=UTC)


def payload(name: str, *, key: str = KEY, at: datetime = NOW, token: str | None = None) -> bytes:
    """A captured payload with our placeholders filled in, signed as Mailgun signs."""
    text = (FIXTURES / f"{name}.json").read_text()
    text = text.replace("{{MESSAGE_ID}}", MESSAGE_ID).replace("{{RCPT}}", "jane@example.com")
    text = text.replace("{{VERP}}", "bounce+x.y@bounces.collector.example")
    data = json.loads(text)
    timestamp = str(int(at.timestamp()))
    token = token or hashlib.sha256(f"{name}{timestamp}".encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    data["signature"] = {"timestamp": timestamp, "token": token, "signature": signature}
    return json.dumps(data).encode()


def callback(body: bytes) -> Callback:
    return Callback(
        url="https://gateway.example/v1/providers/mailgun/receipts",
        headers={"Content-Type": "application/json"},
        body=body,
        content_type="application/json",
    )


@pytest.fixture
def clock() -> Clock:
    clock = Clock()
    clock.set(NOW)
    return clock


@pytest.fixture
def mailgun(clock: Clock) -> MailgunWebhooks:
    return MailgunWebhooks(signing_key=KEY, clock=clock)


def test_a_signed_payload_verifies(mailgun: MailgunWebhooks) -> None:
    mailgun.verify(callback(payload("delivered")))


@pytest.mark.parametrize(
    "body",
    [
        payload("delivered", key="key-wrong"),
        b"{}",
        b"not json",
        json.dumps({"signature": {"timestamp": "1", "token": "t"}}).encode(),
        json.dumps({"signature": "abc"}).encode(),
    ],
)
def test_bad_or_missing_signatures_are_refused(mailgun: MailgunWebhooks, body: bytes) -> None:
    with pytest.raises(SignatureInvalid):
        mailgun.verify(callback(body))


def test_a_stale_signature_is_refused(mailgun: MailgunWebhooks, clock: Clock) -> None:
    body = payload("delivered")
    clock.advance(minutes=6)
    with pytest.raises(SignatureInvalid, match="stale"):
        mailgun.verify(callback(body))


def test_a_token_cannot_carry_another_body(mailgun: MailgunWebhooks) -> None:
    """The signature does not cover the body: a reused token with a new event is a forgery."""
    genuine = payload("delivered", token="t" * 50)
    mailgun.verify(callback(genuine))
    mailgun.verify(callback(genuine))  # Mailgun retrying the same webhook is fine
    forged = payload("failed_permanent", token="t" * 50)
    with pytest.raises(SignatureInvalid, match="replayed"):
        mailgun.verify(callback(forged))


def test_remembered_tokens_expire_with_their_window(mailgun: MailgunWebhooks, clock: Clock) -> None:
    for i in range(20):
        mailgun.verify(callback(payload("delivered", token=f"{i:050d}")))
    clock.advance(minutes=10)
    mailgun.verify(callback(payload("opened", at=clock())))
    assert len(mailgun._seen) == 1


@pytest.mark.parametrize(
    ("name", "event", "reason"),
    [
        ("accepted", E.QUEUED, None),
        ("delivered", E.DELIVERED, None),
        ("failed_permanent", E.BOUNCED, "invalid"),
        ("failed_temporary", E.DEFERRED, None),
        ("failed_suppress_bounce", E.REJECTED, "bounced"),
        ("opened", E.OPENED, None),
        ("clicked", E.CLICKED, None),
        ("unsubscribed", E.UNSUBSCRIBED, None),
        ("complained", E.COMPLAINED, None),
    ],
)
def test_events_map_to_the_normalized_types(
    mailgun: MailgunWebhooks, name: str, event: E, reason: str | None
) -> None:
    [parsed] = mailgun.parse_receipts(callback(payload(name)))
    assert (parsed.type, parsed.reject_reason) == (event, reason)
    # Reported as the smtp provider's: Mailgun relayed what the smtp provider sent.
    assert parsed.provider == "smtp" and parsed.provider_ref == MESSAGE_ID
    assert parsed.event_id.startswith("mailgun:") and parsed.raw["esp"] == "mailgun"
    assert parsed.occurred_at.year == 2026


def test_unknown_events_fall_back_to_unknown(mailgun: MailgunWebhooks) -> None:
    data: dict[str, Any] = json.loads(payload("delivered"))
    data["event-data"]["event"] = "list_member_uploaded"
    [parsed] = mailgun.parse_receipts(callback(json.dumps(data).encode()))
    assert parsed.type is E.UNKNOWN


def test_a_failure_description_is_kept(mailgun: MailgunWebhooks) -> None:
    [parsed] = mailgun.parse_receipts(callback(payload("failed_permanent")))
    assert parsed.description and parsed.description.startswith("550 5.1.1")


def test_payloads_without_a_message_id_give_no_event(mailgun: MailgunWebhooks) -> None:
    data = json.loads(payload("delivered"))
    del data["event-data"]["message"]["headers"]["message-id"]
    assert mailgun.parse_receipts(callback(json.dumps(data).encode())) == []
    assert mailgun.parse_receipts(callback(b"[]")) == []


async def test_it_never_sends(mailgun: MailgunWebhooks) -> None:
    from channels.base import Outgoing

    with pytest.raises(PermanentProviderError) as caught:
        await mailgun.send(Outgoing("m1", "email", "jane@example.com", "text"))
    assert caught.value.provider_side
