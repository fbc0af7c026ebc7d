"""API keys: `rg_<prefix>_<secret>`, stored as the prefix and a SHA-256 of the whole key.

Keys carry 192 bits of randomness, so a fast hash is the right tool (a slow password hash would
only slow every request); comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store.tables import api_keys as K

FORMAT = "rg_<prefix>_<secret> (no other underscore)"
SCOPES = ("reminders:write", "cases:read", "cases:write", "templates:write", "ops")


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    tenant: str
    name: str
    scopes: frozenset[str]


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _split(key: str) -> str | None:
    parts = key.split("_")
    if len(parts) != 3 or parts[0] != "rg" or not parts[1] or not parts[2]:
        return None
    return parts[1]


def well_formed(key: str) -> bool:
    """Whether `key` has the form of an API key (`rg_<prefix>_<secret>`, no other underscore)."""
    return _split(key) is not None


def generate() -> str:
    return f"rg_{secrets.token_hex(6)}_{secrets.token_urlsafe(24).replace('_', 'x')}"


async def create(
    conn: AsyncConnection,
    *,
    scopes: list[str],
    now: datetime,
    name: str = "",
    tenant: str = "default",
    key: str | None = None,
) -> tuple[str, ApiKey]:
    """Store a key (a new random one unless `key` is given) and return it in clear, once."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    key = key or generate()
    prefix = _split(key)
    if prefix is None:
        raise ValueError(f"a key has the form {FORMAT}")
    existing = (
        await conn.execute(sa.select(K.c.id, K.c.secret_hash).where(K.c.prefix == prefix))
    ).first()
    if existing is not None:
        if not hmac.compare_digest(existing.secret_hash, _hash(key)):
            raise ValueError("another key with this prefix exists")
        await conn.execute(
            sa.update(K).where(K.c.id == existing.id).values(scopes=sorted(scopes), revoked_at=None)
        )
        return key, ApiKey(existing.id, tenant, name, frozenset(scopes))
    result = await conn.execute(
        sa.insert(K)
        .values(
            tenant=tenant,
            name=name or prefix,
            prefix=prefix,
            secret_hash=_hash(key),
            scopes=sorted(scopes),
            created_at=now,
        )
        .returning(K.c.id)
    )
    return key, ApiKey(result.scalar_one(), tenant, name, frozenset(scopes))


async def verify(conn: AsyncConnection, key: str) -> ApiKey | None:
    prefix = _split(key)
    if prefix is None:
        return None
    row = (
        await conn.execute(sa.select(K).where(K.c.prefix == prefix, K.c.revoked_at.is_(None)))
    ).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(key)):
        return None
    return ApiKey(row.id, row.tenant, row.name, frozenset(row.scopes))


async def for_import(conn: AsyncConnection, tenant: str, name: str, now: datetime) -> ApiKey:
    """The tenant's key named `name` that imports accept reminders under, made on first use.

    Its secret is thrown away: nobody can call the API with it, it only owns the idempotency keys
    of imported reminders (unique per key), so that a file imported twice sends nothing twice."""
    row = (
        await conn.execute(
            sa.select(K).where(K.c.tenant == tenant, K.c.name == name, K.c.revoked_at.is_(None))
        )
    ).first()
    if row is not None:
        return ApiKey(row.id, row.tenant, row.name, frozenset(row.scopes))
    _, key = await create(conn, scopes=["reminders:write"], now=now, name=name, tenant=tenant)
    return key


async def by_ids(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, ApiKey]:
    """Keys by id, revoked or not: work a key started (a cadence's steps) is still its own."""
    rows = await conn.execute(sa.select(K).where(K.c.id.in_(sorted(ids))))
    return {r.id: ApiKey(r.id, r.tenant, r.name, frozenset(r.scopes)) for r in rows}
