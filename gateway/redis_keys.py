"""Every Redis key and queue name the gateway uses, in one place.

Redis holds queues, locks and development conveniences only; nothing here is the only copy of any
work (the database is, see `gateway.services.due_work`).
"""

from __future__ import annotations


class Keys:
    def __init__(self, prefix: str = "rg"):
        self.prefix = prefix

    @property
    def dispatch_queue(self) -> str:
        """RQ queue for SMS and email dispatch jobs."""
        return f"{self.prefix}-dispatch"

    @property
    def letters_queue(self) -> str:
        """RQ queue for letters: PDF rendering never delays SMS and email."""
        return f"{self.prefix}-letters"

    def queue_for(self, channel: str) -> str:
        return self.letters_queue if channel == "letter" else self.dispatch_queue

    @property
    def scheduler_lock(self) -> str:
        return f"{self.prefix}:lock:scheduler"

    @property
    def sandbox_sms(self) -> str:
        return f"{self.prefix}:sandbox:sms"

    def rate_bucket(self, provider: str, sender: str | None = None) -> str:
        """Token bucket (hash: tokens, ts) of a provider, or of one sender identity of it."""
        if sender is None:
            return f"{self.prefix}:rl:p:{provider}"
        return f"{self.prefix}:rl:s:{provider}:{sender}"

    def rate_throttle(self, bucket: str) -> str:
        """Rate multiplier (< 1, with a TTL) of a bucket after the provider said "too fast"."""
        return f"{bucket}:throttle"
