"""Mailgun event webhooks (delivered, failed, opened…) mapped into the normalized events.

Mail reaches Mailgun through its SMTP relay (the `smtp` provider with SMTP_HOST pointing at it), so
this provider only takes receipts: it is listed in EMAIL_WEBHOOK_PROVIDERS, never in
EMAIL_PROVIDERS. Mailgun keeps the Message-ID it was given, which is the `smtp` provider's
reference, so events are reported as the `smtp` provider's and land on the message that was sent.

Mailgun signs `timestamp + token` with HMAC-SHA256 and the webhook signing key, but not the body.
So a signature is only accepted while fresh (5 minutes) and a token only with the body it first
came with: a captured signature cannot carry a forged event, while Mailgun's own retry of the
same webhook still passes (and changes nothing, events being de-duplicated by id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from channels.base import Callback, Outgoing, PermanentProviderError, SendResult, SignatureInvalid
from channels.email.dsn import find_status, reject_reason
from channels.events import DeliveryEvent, DeliveryEventType, InboundMessage

E = DeliveryEventType


class MailgunWebhooks:
    name: ClassVar[str] = "mailgun"
    channel: ClassVar[str] = "email"

    MAX_AGE_S: ClassVar[float] = 300.0
    MAX_TOKENS: ClassVar[int] = 100_000  # remembered tokens; far above 5 minutes of webhooks

    # Mailgun's `event` → normalized event (django-anymail's mapping); `failed` is refined below.
    STATUS_MAP: ClassVar[dict[str, DeliveryEventType]] = {
        "accepted": E.QUEUED,
        "rejected": E.REJECTED,
        "delivered": E.DELIVERED,
        "failed": E.BOUNCED,
        "opened": E.OPENED,
        "clicked": E.CLICKED,
        "unsubscribed": E.UNSUBSCRIBED,
        "complained": E.COMPLAINED,
    }
    # `reason` of a permanent failure → reject reason. `suppress-*`: Mailgun did not even try,
    # because the address is on one of its suppression lists.
    REJECT_REASONS: ClassVar[dict[str, str]] = {
        "bounce": "bounced",
        "suppress-bounce": "bounced",
        "suppress-complaint": "spam",
        "suppress-unsubscribe": "unsubscribed",
        "espblock": "blocked",
        "old": "timed_out",
        "generic": "other",
    }

    def __init__(
        self,
        *,
        signing_key: str,
        sent_by: str = "smtp",
        clock: Callable[[], datetime] | None = None,
    ):
        self.signing_key = signing_key.encode()
        self.sent_by = sent_by
        self.clock = clock or (lambda: datetime.now(UTC))
        self._seen: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, message: Outgoing) -> SendResult:
        raise PermanentProviderError(
            "mailgun: receipts only; send through its SMTP relay", provider_side=True
        )

    def verify(self, callback: Callback) -> None:
        signature = _json(callback.body).get("signature")
        if not isinstance(signature, dict):
            raise SignatureInvalid("mailgun signature block missing")
        timestamp = str(signature.get("timestamp") or "")
        token = str(signature.get("token") or "")
        given = str(signature.get("signature") or "")
        if not (timestamp and token and given):
            raise SignatureInvalid("mailgun signature incomplete")
        expected = hmac.new(
            self.signing_key, (timestamp + token).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureInvalid("mailgun signature does not match")
        now = self.clock().timestamp()
        try:
            age = now - float(timestamp)
        except ValueError:
            raise SignatureInvalid("mailgun timestamp unreadable") from None
        if abs(age) > self.MAX_AGE_S:
            raise SignatureInvalid("mailgun signature is stale")
        self._check_token(token, hashlib.sha256(callback.body).hexdigest(), now)

    def _check_token(self, token: str, body_hash: str, now: float) -> None:
        while self._seen and (
            len(self._seen) > self.MAX_TOKENS
            or next(iter(self._seen.values()))[0] < now - self.MAX_AGE_S
        ):
            self._seen.popitem(last=False)
        seen = self._seen.get(token)
        if seen is not None and seen[1] != body_hash:
            raise SignatureInvalid("mailgun token replayed with another body")
        self._seen.setdefault(token, (now, body_hash))

    def parse_receipts(self, callback: Callback) -> list[DeliveryEvent]:
        data = _json(callback.body).get("event-data")
        if not isinstance(data, dict):
            return []
        headers = (data.get("message") or {}).get("headers") or {}
        ref = str(headers.get("message-id") or "").strip().strip("<>")
        event = str(data.get("event") or "").lower()
        if not ref or not event:
            return []
        status = data.get("delivery-status") or {}
        kind, reason = self._classify(event, data, status)
        try:
            occurred = datetime.fromtimestamp(float(data["timestamp"]), UTC)
        except (KeyError, TypeError, ValueError):
            occurred = self.clock()
        event_id = str(data.get("id") or hashlib.sha256(callback.body).hexdigest()[:32])
        return [
            DeliveryEvent(
                provider=self.sent_by,
                provider_ref=ref,
                # Prefixed: shares the `smtp` provider's id space with bounce reports.
                event_id=f"mailgun:{event_id}",
                type=kind,
                occurred_at=occurred,
                reject_reason=reason,
                description=(status.get("description") or status.get("message") or None),
                raw={"esp": self.name, **data},
            )
        ]

    def _classify(
        self, event: str, data: dict[str, Any], status: dict[str, Any]
    ) -> tuple[DeliveryEventType, str | None]:
        kind = self.STATUS_MAP.get(event, E.UNKNOWN)
        if event != "failed":
            return kind, None
        if str(data.get("severity") or "").lower() == "temporary":
            return E.DEFERRED, None
        why = str(data.get("reason") or "generic").lower()
        reason = self.REJECT_REASONS.get(why, "other")
        if why.startswith("suppress-"):
            return E.REJECTED, reason
        if reason == "bounced":
            code = str(status.get("enhanced-code") or "") or find_status(
                f"{status.get('message') or ''} {status.get('description') or ''}"
            )
            if code and code.startswith("5."):
                reason = reject_reason(code)
        return E.BOUNCED, reason

    def parse_inbound(self, callback: Callback) -> list[InboundMessage]:
        return []


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
