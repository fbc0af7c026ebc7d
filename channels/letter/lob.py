"""Lob-compatible print-and-mail: `POST /v1/letters` with our rendered PDF, signed tracking webhooks.

Sending. The PDF is rendered here (WeasyPrint, in a worker thread) and uploaded as multipart with
`Idempotency-Key: <message id>`: a send retried after a timeout or a 5xx returns the letter Lob
already created instead of printing a second one. Our template prints the recipient block where the
window of the envelope is, so `address_placement=top_first_page` (no extra blank address page).

The recipient (`to`) is `Outgoing.postal` mapped onto Lob's address fields by
`channels.letter.address.lob_address`. Nothing is corrected on the way: Lob verifies the address
and its 422 marks the contact point `invalid`.

The sender (`from`) is the neutral business name and return address from the settings; anything
that reads as debt collection is refused at start-up, because it would be printed on the envelope.

Tracking events (`event_type.id`, `letter.` and `letter.certified.` prefixes removed) → normalized
events in `STATUS_MAP`. The scans between `mailed` and `delivered` (in transit, in local area,
processed for delivery, re-routed) all mean "in the postal stream", i.e. `sent`: state changes only
ever move forward (`gateway.states.ALLOWED`), so a late scan never undoes `delivered`, and it can
settle a message a crashed worker left `unknown`. The exact Lob event name rides along as the
event's description and in the raw payload.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import aiohttp

from channels.base import (
    Callback,
    Outgoing,
    PermanentProviderError,
    SendResult,
    SignatureInvalid,
    TransientProviderError,
)
from channels.events import DeliveryEvent, DeliveryEventType, InboundMessage
from channels.http import retry_after_seconds
from channels.letter.address import lob_address
from channels.letter.pdf import render

E = DeliveryEventType
SIGNATURE_HEADER = "Lob-Signature"
TIMESTAMP_HEADER = "Lob-Signature-Timestamp"
MAX_SKEW_S = 300.0
# Words that must never appear on an envelope (FDCPA 1006.22(f), CONC 7.9.8G, Garante, CN practice).
COLLECTION_WORDS = re.compile(
    r"collect|debt|recover|arrear|overdue|inkasso|recupero|催收|欠款|讨债|追债|逾期", re.IGNORECASE
)
# Lob error codes that say the recipient's address cannot be mailed to.
ADDRESS_ERRORS = frozenset(
    {"failed_deliverability_strictness", "address_length_exceeds_limit", "undeliverable"}
)
# Lob error codes that are about our account or configuration, not this letter.
ACCOUNT_ERRORS = frozenset({"foreign_return_address", "invalid_country_covid"})
_RECIPIENT_FIELD = re.compile(r"\bto(?:\.|\[|\s)|\baddress_(?:line|city|state|zip|country)")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Lob's webhook signature: hex HMAC-SHA256(secret, "{timestamp}.{raw body}")."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class LobLetters:
    name: ClassVar[str] = "lob"
    channel: ClassVar[str] = "letter"

    # Lob letter events (prefix removed) → normalized events; anything else is UNKNOWN.
    STATUS_MAP: ClassVar[dict[str, DeliveryEventType]] = {
        "created": E.QUEUED,
        "rendered_pdf": E.QUEUED,
        "rendered_thumbnails": E.QUEUED,
        "mailed": E.SENT,
        "in_transit": E.SENT,
        "in_local_area": E.SENT,
        "processed_for_delivery": E.SENT,
        "re-routed": E.SENT,
        "re_routed": E.SENT,
        "international_exit": E.SENT,
        "pickup_available": E.SENT,
        "delivered": E.DELIVERED,
        "returned_to_sender": E.RETURNED,
        "rejected": E.REJECTED,
        "failed": E.FAILED,
        "deleted": E.FAILED,  # cancelled before printing: it will never reach the debtor
        "viewed": E.OPENED,
    }

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        webhook_secret: str,
        sender_name: str,
        return_address: str,
        return_country: str = "US",
        double_sided: bool = True,
        timeout_s: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ):
        for label, text in (("sender name", sender_name), ("return address", return_address)):
            if COLLECTION_WORDS.search(text):
                raise ValueError(
                    f"the letter {label} would tell the envelope's reader about a debt"
                )
        self.letters_url = f"{base_url.rstrip('/')}/v1/letters"
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        # The return address setting is one line, "PO Box 100, Springfield, IL 62701".
        self.sender = lob_address(sender_name, return_address.split(","), return_country)
        self.double_sided = double_sided
        self.timeout_s = timeout_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            # Lob's basic auth: the API key is the user, the password is empty.
            credentials = base64.b64encode(f"{self.api_key}:".encode()).decode()
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                headers={"Authorization": f"Basic {credentials}", "Accept": "application/json"},
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def form(self, message: Outgoing, pdf: bytes) -> aiohttp.FormData:
        """The multipart body of `POST /v1/letters` for one rendered letter."""
        postal: Mapping[str, Any] = message.postal or {}
        recipient = lob_address(
            message.recipient_name or "",
            list(postal.get("lines") or []),
            str(postal.get("country") or ""),
            postal.get("postal_code"),
            city=postal.get("city"),
            region=postal.get("region"),
        )
        form = aiohttp.FormData()
        for prefix, address in (("to", recipient), ("from", self.sender)):
            for key, value in address.items():
                form.add_field(f"{prefix}[{key}]", value)
        form.add_field("color", "false")
        form.add_field("double_sided", "true" if self.double_sided else "false")
        form.add_field("address_placement", "top_first_page")
        form.add_field("use_type", "operational")  # a notice about an account, not marketing
        form.add_field("metadata[message_id]", message.message_id)
        form.add_field(
            "file", pdf, filename=f"{message.message_id}.pdf", content_type="application/pdf"
        )
        return form

    async def send(self, message: Outgoing) -> SendResult:
        if not message.html:
            raise PermanentProviderError("a letter needs an HTML body")
        if self._session is None:
            await self.start()
        assert self._session is not None
        pdf = await asyncio.to_thread(render, message.html)
        headers = {"Idempotency-Key": message.message_id}
        try:
            async with self._session.post(
                self.letters_url, data=self.form(message, pdf.content), headers=headers
            ) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
                raw = await resp.read()
        except TimeoutError:
            raise TransientProviderError("lob: timeout") from None
        except aiohttp.ClientError as exc:
            raise TransientProviderError(f"lob: {type(exc).__name__}") from None
        data = _json(raw)
        if status in (200, 201):
            letter_id = data.get("id")
            if not isinstance(letter_id, str) or not letter_id:
                raise PermanentProviderError("lob: malformed success response")
            detail: dict[str, Any] = {"pages": pdf.pages, "bytes": len(pdf.content)}
            if data.get("expected_delivery_date"):
                detail["expected_delivery_date"] = str(data["expected_delivery_date"])
            return SendResult(letter_id, detail)
        raise _error(status, data, retry_after)

    def verify(self, callback: Callback) -> None:
        if not self.webhook_secret:
            raise SignatureInvalid("LOB_WEBHOOK_SECRET is not set: no webhook can be trusted")
        headers = {k.lower(): v for k, v in callback.headers.items()}
        given = headers.get(SIGNATURE_HEADER.lower(), "").strip().lower()
        stamp = headers.get(TIMESTAMP_HEADER.lower(), "").strip()
        if not given or not stamp:
            raise SignatureInvalid(f"{SIGNATURE_HEADER} or {TIMESTAMP_HEADER} missing")
        expected = signature(self.webhook_secret, stamp, callback.body)
        if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match")
        when = _timestamp(stamp)
        # A captured webhook replayed later must not be accepted: ±5 minutes of our clock.
        if when is None or abs((self.clock() - when).total_seconds()) > MAX_SKEW_S:
            raise SignatureInvalid(f"{TIMESTAMP_HEADER} is not within 5 minutes of now")

    def parse_receipts(self, callback: Callback) -> list[DeliveryEvent]:
        data = _json(callback.body)
        kind = data.get("event_type")
        event_type = str(kind.get("id") if isinstance(kind, dict) else kind or "")
        body = _dict(data.get("body"))
        ref = body.get("id") or data.get("reference_id")
        event_id = data.get("id")
        # Postcards, checks or an unreadable body: acknowledged, nothing to record.
        if not event_type.startswith("letter.") or not ref or not event_id:
            return []
        status = event_type.removeprefix("letter.").removeprefix("certified.")
        normalized = self.STATUS_MAP.get(status, E.UNKNOWN)
        failing = normalized in (E.RETURNED, E.FAILED, E.REJECTED)
        return [
            DeliveryEvent(
                provider=self.name,
                provider_ref=str(ref),
                event_id=str(event_id),
                type=normalized,
                occurred_at=_iso(data.get("date_created")) or self.clock(),
                reject_reason=status if failing else None,
                description=event_type,
                raw=data,
            )
        ]

    def parse_inbound(self, callback: Callback) -> list[InboundMessage]:
        return []


def _error(status: int, data: dict[str, Any], retry_after: str | None) -> Exception:
    """The provider error for a non-2xx answer. Reasons carry Lob's code, never its message,
    which may quote the debtor's address."""
    error = _dict(data.get("error"))
    code = str(error.get("code") or f"http_{status}")
    if status == 429 or status >= 500:
        return TransientProviderError(f"lob: {code}", retry_after=retry_after_seconds(retry_after))
    if status in (401, 403) or code in ACCOUNT_ERRORS:
        # Our key or account, not this letter: let the next letter vendor try.
        return PermanentProviderError(f"lob: {code}", provider_side=True)
    message = str(error.get("message") or "")
    if status == 422 and (
        code in ADDRESS_ERRORS or (_RECIPIENT_FIELD.search(message) and "from" not in message)
    ):
        return PermanentProviderError(f"invalid_address:{code}", contact_status="invalid")
    return PermanentProviderError(f"rejected:{code}")


def _timestamp(raw: str) -> datetime | None:
    """Lob sends epoch milliseconds; a value small enough to be seconds is read as seconds."""
    try:
        value = float(raw)
    except ValueError:
        return None
    seconds = value / 1000 if value > 1e11 else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        return _dict(json.loads(raw) if raw else {})
    except ValueError:
        return {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
