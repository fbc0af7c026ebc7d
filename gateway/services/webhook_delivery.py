"""Delivering the webhook outbox: signed per Standard Webhooks, at least once, in order per case.

Each round reads the due rows (`gateway.store.outbox.due`: a chain — one webhook, one case — is
due only behind no waiting row of its own), sends each chain's rows one after the other (the
chains concurrently, bounded), stops a chain at its first failure, and writes every result in
one transaction. A 2xx is delivered; anything else is retried with exponential backoff and jitter
until the row's day is over, then `failed`. A process dying mid-round leaves its rows pending:
they are sent again (at least once; receivers de-duplicate on `webhook-id`).

The `webhook-timestamp` is the wall clock of the attempt, not the gateway's injectable clock:
the receiver checks it against its own clock (five minutes either way in the reference library).
Neither the secret nor the URL (which may carry a token) is logged. The secret is kept sealed
(gateway.sealed) and opened for each attempt; outside development an attempt never connects to a
non-public address (gateway.services.webhook_targets).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import structlog
from standardwebhooks.webhooks import Webhook

from gateway.runtime import Runtime
from gateway.sealed import Unsealable
from gateway.services.sending import backoff
from gateway.services.webhook_targets import NotPublic, connector_args, refused_host
from gateway.services.webhooks import sealer
from gateway.store import outbox

log = structlog.get_logger()


def body_of(row: Any) -> bytes:
    """The JSON body of a delivery: the same bytes on every attempt."""
    data = dict(row.data)
    if row.case_ref is not None:
        data["case_ref"] = row.case_ref
    return orjson.dumps(
        {"type": row.event_type, "timestamp": row.occurred_at.isoformat(), "data": data}
    )


def signed_headers(secret: str, event_id: str, body: bytes, at: datetime) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
    }


class Deliverer:
    """One process's delivery client: a connection pool kept across rounds."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self.session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def __call__(self) -> int:
        """One round; the number of rows attempted (0: nothing was due)."""
        if self.session is None:
            settings = self.rt.settings
            self.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=settings.webhook_timeout_s),
                connector=aiohttp.TCPConnector(
                    **connector_args(settings.webhooks_may_reach_private)
                ),
            )
        return await deliver_once(self.rt, self.session)


async def deliver_once(rt: Runtime, session: aiohttp.ClientSession) -> int:
    settings = rt.settings
    async with rt.engine.connect() as conn:
        rows = await outbox.due(conn, rt.clock(), settings.webhook_batch)
    if not rows:
        return 0
    chains: dict[tuple[str, int], list[Any]] = {}
    for row in rows:
        chains.setdefault((row.webhook_id, row.chain), []).append(row)
    results: list[dict[str, Any]] = []
    pending = iter(chains.values())

    async def sender() -> None:
        for chain in pending:
            for row in chain:
                result = await _attempt(rt, session, row)
                results.append(result)
                if result["state"] != outbox.DELIVERED:
                    break  # the rest of the case waits behind it

    await asyncio.gather(*(sender() for _ in range(min(settings.webhook_concurrency, len(chains)))))
    async with rt.engine.begin() as conn:
        await outbox.settle(conn, results)
    failed = sum(r["state"] != outbox.DELIVERED for r in results)
    log.info("webhooks_delivered", attempted=len(results), not_delivered=failed)
    return len(results)


async def _attempt(rt: Runtime, session: aiohttp.ClientSession, row: Any) -> dict[str, Any]:
    status, error = await _post(rt, session, row)
    attempts = row.attempts + 1
    now = rt.clock()
    if status is not None and 200 <= status < 300:
        return _result(row, outbox.DELIVERED, attempts, None, status, None, delivered_at=now)
    error = error or f"HTTP {status}"
    if now >= row.give_up_at:
        log.warning("webhook_failed", webhook_id=row.webhook_id, delivery_id=row.id)
        return _result(row, outbox.FAILED, attempts, None, status, error)
    settings = rt.settings
    delay = backoff(attempts, settings.webhook_retry_base_s, settings.webhook_retry_cap_s)
    retry_at = min(now + timedelta(seconds=delay), row.give_up_at)
    return _result(row, outbox.PENDING, attempts, retry_at, status, error)


async def _post(
    rt: Runtime, session: aiohttp.ClientSession, row: Any
) -> tuple[int | None, str | None]:
    """One POST of the row: the receiver's status, or why there was none."""
    settings = rt.settings
    if not settings.webhooks_may_reach_private:
        why = refused_host(urlsplit(row.url).hostname or "")
        if why is not None:
            return None, f"refused: {why}"
    try:
        secret = sealer(settings.secret).open(row.secret)
    except Unsealable as exc:
        return None, f"signing secret unreadable: {exc}"
    body = body_of(row)
    headers = signed_headers(secret, row.event_id, body, datetime.now(UTC))
    try:
        async with session.post(row.url, data=body, headers=headers, allow_redirects=False) as resp:
            await resp.read()
            return resp.status, None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        cause = getattr(exc, "os_error", None)
        if isinstance(cause, NotPublic):  # the name resolved inside: say so, not just the type
            return None, f"refused: {cause}"
        return None, type(exc).__name__


def _result(
    row: Any,
    state: str,
    attempts: int,
    next_attempt_at: datetime | None,
    status: int | None,
    error: str | None,
    delivered_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": state,
        "attempts": attempts,
        "next_attempt_at": next_attempt_at,
        "last_status": status,
        "last_error": error,
        "delivered_at": delivered_at,
    }
