"""The normalized delivery event every provider's receipts are parsed into (after django-anymail)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class DeliveryEventType(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DEFERRED = "deferred"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    BOUNCED = "bounced"
    REJECTED = "rejected"
    FAILED = "failed"
    EXPIRED = "expired"
    RETURNED = "returned"
    OPENED = "opened"
    CLICKED = "clicked"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    provider: str
    provider_ref: str
    event_id: str
    type: DeliveryEventType
    occurred_at: datetime
    reject_reason: str | None = None
    description: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A debtor's message arriving through a provider."""

    provider: str
    channel: str
    from_addr: str
    to_addr: str
    body: str
    provider_ref: str | None
    received_at: datetime
    raw: dict[str, Any] = field(default_factory=dict)
