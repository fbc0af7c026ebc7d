"""Bodies of the webhook API: registering a URL for event types, and reading its deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from gateway.schemas.types import Strict

EventType = Literal["message.state_changed", "reply.received", "case.state_changed", "cadence.step"]


class WebhookIn(Strict):
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    events: list[EventType] = Field(min_length=1, max_length=4)

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if parts.scheme not in ("http", "https"):
            raise ValueError(
                f"the scheme must be http or https, not {parts.scheme or 'none'!r}: "
                "webhooks are delivered by HTTP POST"
            )
        if not parts.hostname:
            raise ValueError("the URL names no host")
        if port == 0 or any(c.isspace() for c in url):
            raise ValueError("not a URL a request can be sent to")
        return url


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreated(WebhookOut):
    """The registration's answer: the only time the signing secret is shown."""

    secret: str


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    event_type: str
    state: Literal["pending", "delivered", "failed", "cancelled"]
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    occurred_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    webhook_id: str
    deliveries: list[DeliveryOut]
    next_after: int | None
