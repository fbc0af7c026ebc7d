"""The development SMS provider: keeps what it "sends" and reports back like a real carrier.

Each send is recorded (newest first, capped) for `GET /v1/sandbox/sms`, then, after a short delay,
a signed `sent` and `delivered` receipt is POSTed to the gateway's own receipt endpoint, so that a
developer exercises the same receipt path as production. Numbers ending in 0000 are reported
`undelivered`, which makes the unhappy path easy to try.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

import aiohttp
import structlog
from redis.asyncio import Redis

from channels.base import Callback, Outgoing, SendResult, SignatureInvalid
from channels.events import DeliveryEvent, DeliveryEventType, InboundMessage

log = structlog.get_logger()

SIGNATURE_HEADER = "X-Sandbox-Signature"
STATUS_MAP: dict[str, DeliveryEventType] = {
    "queued": DeliveryEventType.QUEUED,
    "sent": DeliveryEventType.SENT,
    "delivered": DeliveryEventType.DELIVERED,
    "undelivered": DeliveryEventType.UNDELIVERED,
    "failed": DeliveryEventType.FAILED,
}


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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
    ):
        self.redis = redis
        self.outbox_key = outbox_key
        self.secret = secret
        self.receipts_url = receipts_url
        self.receipt_delay_s = receipt_delay_s
        self.keep = keep
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()

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
        task = asyncio.get_running_loop().create_task(self._report(ref, ["sent", final]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return SendResult(ref)

    async def _report(self, ref: str, statuses: list[str]) -> None:
        await asyncio.sleep(self.receipt_delay_s)
        assert self._session is not None
        for status in statuses:
            payload: dict[str, Any] = {
                "event_id": f"{ref}:{status}",
                "message_ref": ref,
                "status": status,
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            if status == "undelivered":
                payload["error"] = "unreachable"
            body = json.dumps(payload).encode()
            try:
                async with self._session.post(
                    self.receipts_url,
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        SIGNATURE_HEADER: sign(self.secret, body),
                    },
                ) as resp:
                    if resp.status >= 300:
                        log.warning("sandbox_receipt_refused", status=resp.status, ref=ref)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("sandbox_receipt_failed", error=str(exc), ref=ref)
                return

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
