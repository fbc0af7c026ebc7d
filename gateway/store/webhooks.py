"""Webhook registrations: one API key's URLs, the event types each wants, and its signing secret.

A key sees and deletes only its own webhooks; events go to every webhook of the tenant whose
case they are about, since every key of a tenant speaks for the same upstream system.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import webhook_deliveries as D
from gateway.store.tables import webhooks as W

SECRET_BYTES = 24


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    event_types: frozenset[str]


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and the base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def create(
    conn: AsyncConnection,
    *,
    tenant: str,
    api_key_id: int,
    url: str,
    event_types: list[str],
    sealed_secret: str,
    now: datetime,
) -> dict[str, Any]:
    row = {
        "id": "wh_" + secrets.token_hex(12),
        "tenant": tenant,
        "api_key_id": api_key_id,
        "url": url,
        "event_types": sorted(set(event_types)),
        "secret": sealed_secret,
        "created_at": now,
    }
    await conn.execute(sa.insert(W).values(**row))
    return row


_SHOWN = (W.c.id, W.c.url, W.c.event_types, W.c.created_at)


async def of_key(conn: AsyncConnection, api_key_id: int) -> list[Any]:
    rows = await conn.execute(
        sa.select(*_SHOWN)
        .where(W.c.api_key_id == api_key_id, W.c.deleted_at.is_(None))
        .order_by(W.c.created_at, W.c.id)
    )
    return list(rows)


async def get(conn: AsyncConnection, api_key_id: int, webhook_id: str) -> Any | None:
    """The key's own, live webhook; None for another key's, a deleted or an unknown one."""
    row = await conn.execute(
        sa.select(*_SHOWN).where(
            W.c.id == webhook_id, W.c.api_key_id == api_key_id, W.c.deleted_at.is_(None)
        )
    )
    return row.first()


async def delete(conn: AsyncConnection, api_key_id: int, webhook_id: str, now: datetime) -> bool:
    """Soft-delete the key's webhook; its undelivered events will not be sent."""
    result = await conn.execute(
        sa.update(W)
        .where(W.c.id == webhook_id, W.c.api_key_id == api_key_id, W.c.deleted_at.is_(None))
        .values(deleted_at=now)
        .returning(W.c.id)
    )
    if result.first() is None:
        return False
    await conn.execute(
        sa.update(D)
        .where(D.c.webhook_id == webhook_id, D.c.state == "pending")
        .values(state="cancelled", next_attempt_at=None)
    )
    return True


async def subscribed(
    conn: AsyncConnection, tenants: Iterable[str]
) -> dict[str, list[Subscription]]:
    """The live webhooks of `tenants`, by tenant, as this process last read them (at most
    `CACHE_S` ago): a message's state change costs no query when its tenant has no webhook.
    The process that registers or deletes a webhook forgets what it read (`forget`); the others
    see the change within `CACHE_S`."""
    wanted = set(tenants)
    if not wanted:
        return {}
    database = str(conn.engine.url)
    now = time.monotonic()
    missing = sorted(t for t in wanted if not _fresh(_CACHE.get((database, t)), now))
    if missing:
        rows = await conn.execute(
            sa.select(W.c.id, W.c.tenant, W.c.event_types).where(
                W.c.tenant.in_(missing), W.c.deleted_at.is_(None)
            )
        )
        found: dict[str, list[Subscription]] = {t: [] for t in missing}
        for r in rows:
            found[r.tenant].append(Subscription(r.id, frozenset(r.event_types)))
        if len(_CACHE) > 10_000:
            _CACHE.clear()
        for tenant, hooks in found.items():
            _CACHE[database, tenant] = (now + CACHE_S, hooks)
    out = {}
    for tenant in wanted:
        hooks = _CACHE[database, tenant][1]
        if hooks:
            out[tenant] = hooks
    return out


# How long a process trusts what it read of a tenant's webhooks.
CACHE_S = 1.0
_CACHE: dict[tuple[str, str], tuple[float, list[Subscription]]] = {}


def _fresh(entry: tuple[float, list[Subscription]] | None, now: float) -> bool:
    return entry is not None and entry[0] > now


def forget() -> None:
    """Drop what this process read of webhooks (after it committed a registration or deletion)."""
    _CACHE.clear()
