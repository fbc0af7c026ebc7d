"""The development SMS provider: keeps what it "sends" and reports back like a real carrier.

Each send is recorded (newest first, capped) for `GET /v1/sandbox/sms`, then, after a short delay,
a signed `sent` and `delivered` receipt is POSTed to the gateway's own receipt endpoint, so that a
developer exercises the same receipt path as production (retried until answered, even under a
burst: see `sandbox_receipts`). Numbers ending in 0000 are reported `undelivered`, which makes the
unhappy path easy to try.
"""

from __future__ import annotations

import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

from redis.asyncio import Redis

from channels.base import Callback, Outgoing, SendResult, SignatureInvalid
from channels.events import DeliveryEvent, DeliveryEventType, InboundMessage
from channels.sms.sandbox_receipts import SIGNATURE_HEADER, ReceiptCourier, Retry, sign

__all__ = ["SIGNATURE_HEADER", "SandboxSms", "sign"]

STATUS_MAP: dict[str, DeliveryEventType] = {
    "queued": DeliveryEventType.QUEUED,
    "sent": DeliveryEventType.SENT,
    "delivered": DeliveryEventType.DELIVERED,
    "undelivered": DeliveryEventType.UNDELIVERED,
    "failed": DeliveryEventType.FAILED,
}


class SandboxSms:
    name: ClassVar[str] = "sandbox"
    channel: ClassVar[str] = "sms"

    def __init__(
        self,
        *,
        redis: Redis,
        outbox_key: str,
        secret: str,
        receipts_url: str,
        receipt_delay_s: float = 0.2,
        keep: int = 1000,
        receipt_concurrency: int = 16,
        receipt_timeout_s: float = 10.0,
        receipt_retry: Retry | None = None,
    ):
        self.redis = redis
        self.outbox_key = outbox_key
        self.secret = secret
        self.keep = keep
        # Receipts go through a courier of their own: bounded, retried, and holdable by tests.
        self.receipts = ReceiptCourier(
            url=receipts_url,
            secret=secret,
            delay_s=receipt_delay_s,
            concurrency=receipt_concurrency,
            timeout_s=receipt_timeout_s,
            retry=receipt_retry,
        )

    async def start(self) -> None:
        await self.receipts.start()

    async def close(self) -> None:
        await self.receipts.close()

    async def send(self, message: Outgoing) -> SendResult:
        ref = "SB" + secrets.token_hex(12)
        record = {
            "ref": ref,
            "to": message.to,
            "body": message.body,
            "at": datetime.now(UTC).isoformat(),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.outbox_key, json.dumps(record))
            pipe.ltrim(self.outbox_key, 0, self.keep - 1)
            await pipe.execute()
        final = "undelivered" if message.to.endswith("0000") else "delivered"
        self.receipts.report(ref, ["sent", final])
        return SendResult(ref)

    def verify(self, callback: Callback) -> None:
        given = {k.lower(): v for k, v in callback.headers.items()}.get(
            SIGNATURE_HEADER.lower(), ""
        )
        if not given or not hmac.compare_digest(given, sign(self.secret, callback.body)):
            raise SignatureInvalid("sandbox signature missing or wrong")

    def parse_receipts(self, callback: Callback) -> list[DeliveryEvent]:
        data = json.loads(callback.body)
        return [
            DeliveryEvent(
                provider=self.name,
                provider_ref=data["message_ref"],
                event_id=data["event_id"],
                type=STATUS_MAP.get(data["status"], DeliveryEventType.UNKNOWN),
                occurred_at=datetime.fromisoformat(data["occurred_at"]),
                reject_reason=data.get("error"),
                raw=data,
            )
        ]

    def parse_inbound(self, callback: Callback) -> list[InboundMessage]:
        data = json.loads(callback.body)
        return [
            InboundMessage(
                provider=self.name,
                channel="sms",
                from_addr=data["from"],
                to_addr=data["to"],
                body=data["body"],
                provider_ref=data.get("id"),
                received_at=datetime.now(UTC),
                raw=data,
            )
        ]

    async def outbox(self, limit: int = 100) -> list[dict[str, Any]]:
        return [json.loads(item) for item in await self.redis.lrange(self.outbox_key, 0, limit - 1)]
