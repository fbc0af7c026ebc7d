"""Preparing a database: migrations, the built-in template pack, API keys."""

from __future__ import annotations

from gateway.runtime import utcnow
from gateway.settings import Settings
from gateway.store import keys as key_store
from gateway.store import templates as template_store
from gateway.store.engine import create_engine
from gateway.store.migrate import upgrade


async def prepare(settings: Settings) -> int:
    """Migrate to head and install the template pack; return how many templates were installed."""
    upgrade(settings)
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            return await template_store.install_pack(conn, utcnow())
    finally:
        await engine.dispose()


async def create_key(
    settings: Settings,
    *,
    scopes: list[str],
    name: str = "",
    tenant: str = "default",
    key: str | None = None,
) -> str:
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            clear, _ = await key_store.create(
                conn, scopes=scopes, now=utcnow(), name=name, tenant=tenant, key=key
            )
            return clear
    finally:
        await engine.dispose()
