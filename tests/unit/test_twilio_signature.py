"""Twilio callbacks: X-Twilio-Signature checking and parsing of captured status and inbound forms."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote_plus, urlencode

import pytest

from channels.base import Callback, SignatureInvalid
from channels.events import DeliveryEventType
from channels.sms.twilio import TwilioSms, signature

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twilio"
TOKEN = "f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8"
PUBLIC = "https://gateway.example.com"
NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"


def provider(public_url: str = PUBLIC) -> TwilioSms:
    return TwilioSms(
        base_url="https://api.twilio.com",
        account_sid="AC3e1f2a9b8c7d6e5f4a3b2c1d0e9f8a7b",
        auth_token=TOKEN,
        sender="+15005550006",
        public_url=public_url,
        clock=lambda: NOW,
    )


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def by_hand(token: str, url: str, pairs: list[tuple[str, str]]) -> str:
    """The documented algorithm, written out independently of the code under test."""
    data = url
    for name, value in sorted(pairs, key=lambda p: (p[0], p[1])):
        data += name + value
    return base64.b64encode(
        hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    ).decode()


def callback(body: bytes, url: str, sig: str | None) -> Callback:
    headers = {"Content-Type": FORM}
    if sig is not None:
        headers["X-Twilio-Signature"] = sig
    return Callback(url=url, headers=headers, body=body, content_type=FORM)


def test_signature_matches_twilios_published_example() -> None:
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert by_hand("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_signature_of_a_captured_receipt_matches_the_hand_computed_vector() -> None:
    body = fixture("status_delivered.form").decode()
    pairs = [tuple(p.split("=", 1)) for p in body.split("&")]
    decoded = [(unquote_plus(k), unquote_plus(v)) for k, v in pairs]
    url = f"{PUBLIC}/v1/providers/twilio/receipts"
    assert signature(TOKEN, url, decoded) == by_hand(TOKEN, url, decoded)
    # And the order of the form's fields does not matter.
    assert signature(TOKEN, url, list(reversed(decoded))) == by_hand(TOKEN, url, decoded)


def test_verify_accepts_a_signature_over_the_public_url_behind_a_proxy() -> None:
    body = fixture("status_delivered.form")
    pairs = parse_qsl(body.decode(), keep_blank_values=True)
    sig = by_hand(TOKEN, f"{PUBLIC}/v1/providers/twilio/receipts?attempt=2", pairs)
    # The gateway sees the internal address the proxy forwarded to, not what Twilio posted to.
    provider().verify(
        callback(body, "http://10.1.2.3:8080/v1/providers/twilio/receipts?attempt=2", sig)
    )


def test_verify_keeps_a_path_prefix_of_the_public_url() -> None:
    body = fixture("status_sent.form")
    pairs = parse_qsl(body.decode())
    sig = by_hand(TOKEN, "https://example.com/gw/v1/providers/twilio/receipts", pairs)
    provider("https://example.com/gw/").verify(
        callback(body, "http://127.0.0.1:8080/v1/providers/twilio/receipts", sig)
    )
    provider("https://example.com/gw").verify(
        callback(body, "http://127.0.0.1:8080/gw/v1/providers/twilio/receipts", sig)
    )


def test_verify_accepts_the_url_signed_with_the_default_port() -> None:
    body = fixture("status_sent.form")
    sig = by_hand(
        TOKEN,
        "https://gateway.example.com:443/v1/providers/twilio/receipts",
        parse_qsl(body.decode()),
    )
    provider().verify(callback(body, "http://127.0.0.1:8080/v1/providers/twilio/receipts", sig))


@pytest.mark.parametrize(
    "sig",
    [
        None,
        "",
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        # Signed over the internal URL, which is not what Twilio signs.
        "internal",
        # Signed with another account's token.
        "other-token",
        "not base64 at all 王",
    ],
)
def test_verify_rejects_missing_and_forged_signatures(sig: str | None) -> None:
    body = fixture("status_delivered.form")
    pairs = parse_qsl(body.decode())
    internal = "http://10.1.2.3:8080/v1/providers/twilio/receipts"
    if sig == "internal":
        sig = by_hand(TOKEN, internal, pairs)
    elif sig == "other-token":
        sig = by_hand("someone-elses-token", f"{PUBLIC}/v1/providers/twilio/receipts", pairs)
    with pytest.raises(SignatureInvalid):
        provider().verify(callback(body, internal, sig))


def test_verify_rejects_a_tampered_body() -> None:
    body = fixture("status_undelivered_30003.form")
    url = f"{PUBLIC}/v1/providers/twilio/receipts"
    sig = by_hand(TOKEN, url, parse_qsl(body.decode()))
    tampered = body.replace(b"MessageStatus=undelivered", b"MessageStatus=delivered")
    with pytest.raises(SignatureInvalid):
        provider().verify(callback(tampered, url, sig))


@pytest.mark.parametrize(
    ("name", "ref", "kind", "reason"),
    [
        ("status_sent.form", "SM5f1c8a6b0d2e4c7a9b3e2f1d0c9b8a7e", DeliveryEventType.SENT, None),
        (
            "status_delivered.form",
            "SM5f1c8a6b0d2e4c7a9b3e2f1d0c9b8a7e",
            DeliveryEventType.DELIVERED,
            None,
        ),
        (
            "status_undelivered_30003.form",
            "SM0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d",
            DeliveryEventType.UNDELIVERED,
            "unreachable",
        ),
        (
            "status_failed_30007.form",
            "SM1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e",
            DeliveryEventType.FAILED,
            "filtered",
        ),
    ],
)
def test_parse_captured_status_callbacks(
    name: str, ref: str, kind: DeliveryEventType, reason: str | None
) -> None:
    body = fixture(name)
    [event] = provider().parse_receipts(
        callback(body, f"{PUBLIC}/v1/providers/twilio/receipts", "x")
    )
    assert event.provider == "twilio"
    assert event.provider_ref == ref
    assert event.type is kind
    assert event.event_id == f"{ref}:{kind.value}"
    assert event.reject_reason == reason
    assert event.occurred_at == NOW
    assert event.raw["AccountSid"].startswith("AC")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("queued", DeliveryEventType.QUEUED),
        ("accepted", DeliveryEventType.QUEUED),
        ("sending", DeliveryEventType.QUEUED),
        ("read", DeliveryEventType.DELIVERED),
        ("something_new", DeliveryEventType.UNKNOWN),
    ],
)
def test_status_map_and_its_fallback(status: str, kind: DeliveryEventType) -> None:
    body = urlencode({"MessageSid": "SM1", "MessageStatus": status}).encode()
    [event] = provider().parse_receipts(callback(body, PUBLIC, None))
    assert event.type is kind
    assert event.event_id == f"SM1:{status}"


def test_unlisted_error_code_is_kept_as_the_reason() -> None:
    body = urlencode(
        {"MessageSid": "SM2", "MessageStatus": "undelivered", "ErrorCode": "30008"}
    ).encode()
    [event] = provider().parse_receipts(callback(body, PUBLIC, None))
    assert event.reject_reason == "30008"


def test_parse_captured_inbound_stop() -> None:
    [msg] = provider().parse_inbound(callback(fixture("inbound_stop.form"), PUBLIC, None))
    assert (msg.provider, msg.channel, msg.body) == ("twilio", "sms", "STOP")
    assert msg.from_addr == "+14155550123"
    assert msg.to_addr == "+15005550006"
    assert msg.provider_ref == "SMbe794ce78f6b9fdf853d2acb76c080db"
    assert msg.received_at == NOW


def test_parse_captured_inbound_in_chinese() -> None:
    [msg] = provider().parse_inbound(callback(fixture("inbound_zh.form"), PUBLIC, None))
    assert msg.body == "已还 下周五还"
    assert msg.from_addr == "+8613800138000"
