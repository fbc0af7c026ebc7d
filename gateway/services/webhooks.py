"""Registering webhooks and looking after their deliveries, for the API key that owns them.

Another key's webhook is answered as unknown (404), never as forbidden: a key cannot learn that
someone else's exists.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from gateway.errors import NotFound, ValidationFailed
from gateway.runtime import Runtime
from gateway.schemas.webhooks import (
    DeliveryOut,
    DeliveryPage,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookOut,
)
from gateway.sealed import Sealer
from gateway.services.webhook_events import GIVE_UP
from gateway.services.webhook_targets import refused_host
from gateway.store import outbox
from gateway.store import webhooks as webhook_store
from gateway.store.keys import ApiKey


def _out(row: Any) -> WebhookOut:
    return WebhookOut(id=row.id, url=row.url, events=row.event_types, created_at=row.created_at)


def _unknown(webhook_id: str) -> NotFound:
    return NotFound(f"no webhook {webhook_id!r} for this API key", code="unknown_webhook")


@lru_cache(maxsize=4)
def sealer(gateway_secret: str) -> Sealer:
    """What keeps the webhooks' signing secrets sealed in the database (gateway.sealed)."""
    return Sealer(gateway_secret, "webhook-secrets")


async def create(rt: Runtime, key: ApiKey, body: WebhookIn) -> WebhookCreated:
    host = urlsplit(body.url).hostname or ""
    why = None if rt.settings.webhooks_may_reach_private else refused_host(host)
    if why is not None:
        raise ValidationFailed(
            f"url: webhooks are delivered to public addresses only: {why} "
            "(WEBHOOK_ALLOW_PRIVATE=true allows this machine and private networks)",
            code="webhook_url_not_public",
        )
    secret = webhook_store.new_secret()
    async with rt.engine.begin() as conn:
        row = await webhook_store.create(
            conn,
            tenant=key.tenant,
            api_key_id=key.id,
            url=body.url,
            event_types=list(body.events),
            sealed_secret=sealer(rt.settings.secret).seal(secret),
            now=rt.clock(),
        )
    webhook_store.forget()
    return WebhookCreated(
        id=row["id"],
        url=row["url"],
        events=row["event_types"],
        created_at=row["created_at"],
        secret=secret,
    )


async def list_(rt: Runtime, key: ApiKey) -> WebhookList:
    async with rt.engine.connect() as conn:
        rows = await webhook_store.of_key(conn, key.id)
    return WebhookList(webhooks=[_out(r) for r in rows])


async def delete(rt: Runtime, key: ApiKey, webhook_id: str) -> WebhookOut:
    async with rt.engine.begin() as conn:
        row = await webhook_store.get(conn, key.id, webhook_id)
        if row is None or not await webhook_store.delete(conn, key.id, webhook_id, rt.clock()):
            raise _unknown(webhook_id)
    webhook_store.forget()
    return _out(row)


def _delivery(row: Any) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        state=row.state,
        attempts=row.attempts,
        last_status=row.last_status,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        occurred_at=row.occurred_at,
        delivered_at=row.delivered_at,
    )


async def deliveries(
    rt: Runtime, key: ApiKey, webhook_id: str, *, after: int, limit: int
) -> DeliveryPage:
    async with rt.engine.connect() as conn:
        if await webhook_store.get(conn, key.id, webhook_id) is None:
            raise _unknown(webhook_id)
        rows = await outbox.page(conn, webhook_id, after=after, limit=limit)
    return DeliveryPage(
        webhook_id=webhook_id,
        deliveries=[_delivery(r) for r in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
    )


async def redeliver(rt: Runtime, key: ApiKey, webhook_id: str, delivery_id: int) -> DeliveryOut:
    now = rt.clock()
    async with rt.engine.begin() as conn:
        if await webhook_store.get(conn, key.id, webhook_id) is None:
            raise _unknown(webhook_id)
        row = await outbox.redeliver(conn, webhook_id, delivery_id, now, now + GIVE_UP)
        if row is None:
            raise NotFound(f"webhook {webhook_id!r} has no delivery {delivery_id}")
    return _delivery(row)
