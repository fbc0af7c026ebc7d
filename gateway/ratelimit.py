"""Provider rate limits: token buckets in Redis, shared by every worker on every machine.

Two levels, both optional per provider: a bucket for the whole provider (`RATE_LIMITS`, e.g. an
account's messages per second) and one per sender identity of that provider (`SENDER_RATE_LIMITS`,
e.g. 1 message/s per long code). One Lua script takes `n` tokens from every bucket on the path at
once, or from none, so two levels never leak tokens into each other.

Tokens are *reserved*: a grant may leave a bucket negative, and the caller sleeps the returned
wait before sending. Each message costs one Redis round trip, and a backlog released at once (a
contact window opening) leaves at the provider's rate, in reservation order, instead of every
waiter polling and bursting together. A reservation longer than the caller's `max_wait_s` is not
taken: the caller gets `RateLimited(retry_after)` and defers the message rather than sleeping with
a claim held.

Time is Redis server time (`TIME`), so workers whose clocks disagree still share one bucket.
A throttling answer from a provider (`throttled()`) stores a rate multiplier with a TTL next to the
bucket; the script reads it, so every worker slows down at once and recovers when it expires.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.redis_keys import Keys

if TYPE_CHECKING:
    import redis.asyncio as aredis

    from gateway.metrics.recorder import Metrics

# KEYS: bucket_1, throttle_1, bucket_2, throttle_2, …   ARGV: n, max_wait, rate_1, burst_1, …
# Returns {granted 0|1, wait seconds as a string} (a Lua number would be truncated to an integer).
_ACQUIRE = """
local n = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wait = 0
local state = {}
for i = 1, #KEYS / 2 do
  local mult = tonumber(redis.call('GET', KEYS[2 * i]) or '1') or 1
  local rate = tonumber(ARGV[1 + 2 * i]) * mult
  local burst = tonumber(ARGV[2 + 2 * i])
  -- A throttled bucket holds less too, else its stored burst would still go out at once; but a
  -- request of n <= burst must stay grantable.
  local cap = math.max(burst * mult, math.min(n, burst))
  local h = redis.call('HMGET', KEYS[2 * i - 1], 'tokens', 'ts')
  local tokens = tonumber(h[1]) or cap
  local ts = tonumber(h[2]) or now
  -- Never refill backwards (a failover to a replica whose clock is behind).
  if now > ts then
    tokens = tokens + (now - ts) * rate
    ts = now
  end
  tokens = math.min(cap, tokens)
  if tokens < n then
    wait = math.max(wait, (n - tokens) / rate)
  end
  state[i] = {tokens, ts, rate, cap}
end
if wait > max_wait then
  return {0, tostring(wait)}
end
for i = 1, #KEYS / 2 do
  local s = state[i]
  local left = s[1] - n
  redis.call('HSET', KEYS[2 * i - 1], 'tokens', tostring(left), 'ts', tostring(s[2]))
  -- Idle until full, the bucket is worth nothing: let it expire (it comes back full).
  redis.call('PEXPIRE', KEYS[2 * i - 1], math.ceil((s[4] - left) / s[3] * 1000) + 1000)
end
return {1, tostring(wait)}
"""

# KEYS: throttle keys.  ARGV: factor, ttl in ms.  The lowest multiplier wins and the TTL restarts:
# a burst of 429s from many in-flight requests must not compound into a near-zero rate.
_THROTTLE = """
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '1') or 1
  redis.call('SET', KEYS[i], tostring(math.min(current, tonumber(ARGV[1]))), 'PX', ARGV[2])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """`rate` tokens a second, at most `burst` held (and so sent back to back)."""

    rate: float
    burst: int


class RateLimited(Exception):
    """Tokens are further away than the caller would wait: defer the message by `retry_after`."""

    def __init__(self, provider: str, sender: str, retry_after: float):
        super().__init__(f"rate limit of {provider}: next token in {retry_after:.2f}s")
        self.provider = provider
        self.sender = sender
        self.retry_after = retry_after


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_ENTRY = re.compile(r"^(?P<rate>[0-9.]+)(?:/(?P<unit>[smh]))?(?::(?P<burst>[0-9]+))?$")


def parse_rate_limits(raw: str, setting: str = "RATE_LIMITS") -> dict[str, Limit]:
    """Parse `provider=RATE[/UNIT][:BURST],…` into limits; unlimited providers are left out.

    RATE is a number of messages per UNIT (`s`, `m` or `h`; default `s`); BURST (default: one
    second's worth, at least 1) is how many may go back to back. `0` means unlimited, as does a
    provider that is not listed. Errors name `setting` and the entry.
    """
    limits: dict[str, Limit] = {}
    seen: set[str] = set()
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        name, sep, spec = (part.strip() for part in entry.partition("="))
        if not sep or not name:
            raise ValueError(f"{setting}: {entry!r} is not provider=RATE[/s|m|h][:BURST]")
        if name in seen:
            raise ValueError(f"{setting}: {name!r} is listed twice")
        seen.add(name)
        match = _ENTRY.match(spec)
        try:
            rate = float(match["rate"]) if match else -1.0
        except ValueError:
            rate = -1.0
        if match is None or rate < 0 or not math.isfinite(rate):
            raise ValueError(
                f"{setting}: {entry!r}: expected RATE[/s|m|h][:BURST], e.g. {name}=50/s:100"
            )
        if rate == 0:
            continue
        per_second = rate / _UNITS[match["unit"] or "s"]
        burst = int(match["burst"]) if match["burst"] else max(1, math.ceil(per_second))
        if burst < 1:
            raise ValueError(f"{setting}: {entry!r}: BURST must be at least 1")
        limits[name] = Limit(per_second, burst)
    return limits


class RateLimiter:
    """Token buckets per provider and per (provider, sender identity), shared through Redis.

    Build one per worker process (the composition root does) and keep it: the scripts are registered once
    and sent by SHA (redis-py falls back to EVAL after a NOSCRIPT, e.g. after a Redis restart).
    """

    def __init__(
        self,
        redis: aredis.Redis,
        keys: Keys,
        provider_limits: dict[str, Limit],
        sender_limits: dict[str, Limit] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        metrics: Metrics | None = None,
    ):
        self.keys = keys
        self.metrics = metrics
        self.provider_limits = provider_limits
        self.sender_limits = sender_limits or {}
        self._sleep = sleep
        self._acquire = redis.register_script(_ACQUIRE)
        self._throttle = redis.register_script(_THROTTLE)

    def limited(self, provider: str) -> bool:
        """Does anything limit this provider? (If not, acquiring costs no Redis call.)"""
        return provider in self.provider_limits or provider in self.sender_limits

    def _path(self, provider: str, sender: str) -> list[tuple[str, str, Limit]]:
        """(bucket key, throttle key, limit) of every bucket a send through `sender` passes."""
        path = []
        if (limit := self.provider_limits.get(provider)) is not None:
            key = self.keys.rate_bucket(provider)
            path.append((key, self.keys.rate_throttle(key), limit))
        if (limit := self.sender_limits.get(provider)) is not None:
            key = self.keys.rate_bucket(provider, sender)
            path.append((key, self.keys.rate_throttle(key), limit))
        return path

    async def reserve(self, provider: str, sender: str, n: int = 1, *, max_wait_s: float) -> float:
        """Reserve `n` tokens; return the seconds to wait before sending (0.0: send now).

        Raises `RateLimited` (nothing reserved) when the wait would exceed `max_wait_s`, and
        `ValueError` when `n` exceeds a bucket's burst (it could never be granted).
        """
        path = self._path(provider, sender)
        if not path:
            return 0.0
        for _, _, limit in path:
            if n > limit.burst:
                raise ValueError(f"{provider}: {n} tokens at once exceed its burst {limit.burst}")
        keys = [k for key, throttle, _ in path for k in (key, throttle)]
        args: list[Any] = [n, repr(max_wait_s)]
        for _, _, limit in path:
            args += [repr(limit.rate), limit.burst]
        granted, wait = await self._acquire(keys=keys, args=args)
        if not int(granted):
            raise RateLimited(provider, sender, float(wait))
        return float(wait)

    async def acquire(self, provider: str, sender: str, n: int = 1, *, max_wait_s: float) -> float:
        """Take `n` tokens, sleeping on this loop until they are due; return the seconds slept.

        Raises `RateLimited(retry_after)` without sleeping when that would take over `max_wait_s`.
        """
        try:
            wait = await self.reserve(provider, sender, n, max_wait_s=max_wait_s)
        except RateLimited:
            if self.metrics is not None:
                self.metrics.rate_limit_denied(provider, n)
            raise
        if self.metrics is not None and self.limited(provider):
            self.metrics.rate_limit_waited(provider, wait)
        if wait > 0:
            await self._sleep(wait)
        return wait

    async def throttled(
        self, provider: str, sender: str | None = None, factor: float = 0.5, for_s: float = 60.0
    ) -> None:
        """The provider answered "too fast": multiply its rate by `factor` for `for_s` seconds.

        Applies to the provider's bucket and, with `sender`, to that sender's bucket too; every
        worker sees it at its next acquire. A provider without a configured limit is unaffected
        (there is no rate to lower — configure one to get throttle feedback).
        """
        if not 0 < factor <= 1:
            raise ValueError(f"throttle factor must be in (0, 1], got {factor}")
        keys = []
        if provider in self.provider_limits:
            keys.append(self.keys.rate_throttle(self.keys.rate_bucket(provider)))
        if sender is not None and provider in self.sender_limits:
            keys.append(self.keys.rate_throttle(self.keys.rate_bucket(provider, sender)))
        if keys:
            ttl_ms = max(1, round(for_s * 1000))
            await self._throttle(keys=keys, args=[repr(factor), ttl_ms])
            if self.metrics is not None:
                self.metrics.rate_limit_throttled(provider)
