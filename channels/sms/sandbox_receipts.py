"""How the SMS sandbox reports back: signed receipts POSTed to the gateway, and none lost.

A burst of sends is a burst of callbacks to the gateway's receipt endpoint, which is busy with the
same burst (database writes, a full connection pool) and may answer slowly or with a 503. So the
sandbox behaves like a well-mannered carrier: a bounded number of callbacks in flight on one
session, a refused (5xx, 408, 429) or failed (connection, timeout) callback retried with capped
exponential backoff and full jitter (never sooner than a Retry-After), and a receipt given up only
after a bounded number of attempts, with a log line that says so. Any other 4xx is a verdict (a
wrong signature, no such provider) that no retry changes.

Receipts can be held (`hold()`) until released (`release()`), and `settle()` returns once every
receipt due has been answered: a test then sees a message `sent` for as long as it looks, and
`delivered` exactly when it asks.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog

from channels.http import retry_after_seconds

log = structlog.get_logger()

SIGNATURE_HEADER = "X-Sandbox-Signature"
# Answers that say "not now" rather than "never".
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Retry:
    """At most `attempts` tries of one receipt, waiting up to base·2ⁿ (at most `cap_s`) between."""

    attempts: int = 8
    base_s: float = 0.1
    cap_s: float = 5.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait after failed try number `attempt` (1-based): full jitter, so a burst of
        refused callbacks spreads out instead of coming back all at once."""
        ceiling = min(self.cap_s, self.base_s * 2 ** (attempt - 1))
        return max(random.uniform(0, ceiling), min(retry_after or 0.0, self.cap_s))


class _Refused(Exception):
    def __init__(self, status: int, retry_after: float | None):
        super().__init__(f"http {status}")
        self.status, self.retry_after = status, retry_after


class ReceiptCourier:
    """Posts each sandbox send's receipts to the gateway after `delay_s`, retrying until answered."""

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        delay_s: float,
        concurrency: int = 16,
        timeout_s: float = 10.0,
        retry: Retry | None = None,
        close_grace_s: float = 2.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.url = url
        self.secret = secret
        self.delay_s = delay_s
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retry = retry or Retry()
        self.close_grace_s = close_grace_s
        self.now = now
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(concurrency)
        self._released = asyncio.Event()
        self._released.set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """Sends whose receipts have not all been answered (or given up) yet."""
        return len(self._tasks)

    @property
    def held(self) -> bool:
        return not self._released.is_set()

    async def start(self) -> None:
        # One session, and no more connections than callbacks in flight: they are reused.
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            connector=aiohttp.TCPConnector(limit=self.concurrency),
        )

    def report(self, ref: str, statuses: list[str]) -> None:
        """Post these statuses for `ref`, in order, once the delay has passed (and not held)."""
        task = asyncio.get_running_loop().create_task(self._report(ref, statuses))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def hold(self) -> None:
        """Keep every receipt not yet posted until `release()`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    async def settle(self) -> None:
        """Return once every receipt due so far has been answered by the gateway or given up."""
        if self.held:
            raise RuntimeError("sandbox receipts are held: release() them first")
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Give receipts on their way a moment to land, then drop the rest (and say how many)."""
        if self._tasks and not self.held:
            await asyncio.wait(list(self._tasks), timeout=self.close_grace_s)
        dropped = list(self._tasks)
        for task in dropped:
            task.cancel()
        await asyncio.gather(*dropped, return_exceptions=True)
        if dropped:
            log.info("sandbox_receipts_dropped", count=len(dropped), held=self.held)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _report(self, ref: str, statuses: list[str]) -> None:
        await asyncio.sleep(self.delay_s)
        await self._released.wait()
        for status in statuses:
            # Each status stands on its own: a `sent` given up does not keep `delivered` back.
            await self._deliver(ref, status, self._payload(ref, status))

    def _payload(self, ref: str, status: str) -> bytes:
        payload: dict[str, Any] = {
            "event_id": f"{ref}:{status}",
            "message_ref": ref,
            "status": status,
            "occurred_at": self.now().isoformat(),
        }
        if status == "undelivered":
            payload["error"] = "unreachable"
        return json.dumps(payload).encode()

    async def _deliver(self, ref: str, status: str, body: bytes) -> None:
        # The same body (and event id) on every try: if a lost answer hid a success, the gateway
        # counts the repeat as a duplicate.
        error, attempt = "", 0
        for attempt in range(1, self.retry.attempts + 1):
            try:
                async with self._slots:
                    await self._post(body)
                return
            except _Refused as exc:
                error, retry_after = str(exc), exc.retry_after
                if exc.status not in RETRYABLE_STATUSES:
                    log.warning("sandbox_receipt_refused", status=exc.status, ref=ref)
                    return
            except (aiohttp.ClientError, TimeoutError) as exc:
                error, retry_after = type(exc).__name__, None
            if attempt < self.retry.attempts:
                await asyncio.sleep(self.retry.delay(attempt, retry_after))
        log.warning("sandbox_receipt_failed", error=error, attempts=attempt, ref=ref, status=status)

    async def _post(self, body: bytes) -> None:
        assert self._session is not None, "start() the sandbox first"
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, body)}
        async with self._session.post(self.url, data=body, headers=headers) as resp:
            if resp.status >= 300:
                raise _Refused(resp.status, retry_after_seconds(resp.headers.get("Retry-After")))
