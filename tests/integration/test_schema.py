"""The migrations build exactly the schema of `gateway.store.tables`, and migration 0007 leaves
every message's `next_attempt_at` as the message store keeps it (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.settings import Settings
from gateway.store.engine import create_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import metadata
from tests.integration.test_reply_migration import _rows, empty_database  # noqa: F401 — fixture

pytestmark = pytest.mark.slow


async def _differences(settings: Settings) -> list[object]:
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()


async def test_the_migrations_build_the_tables_the_code_declares(
    empty_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, database_url=empty_database)
    upgrade(settings)
    assert await _differences(settings) == []
    indexes = {
        name: sql
        for name, sql in await _rows(
            settings,
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages'"
            if not settings.is_sqlite
            else "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            " AND tbl_name = 'messages'",
        )
    }
    # Partial indexes, which alembic's comparison does not look into.
    assert "IS NOT NULL" in str(indexes["ix_messages_next_attempt_at"])
    assert "IS NOT NULL" in str(indexes["ix_messages_provider_provider_ref"])
    assert not {"ix_messages_state_next_attempt_at", "ix_messages_case_id_attempted_at"} & set(
        indexes
    )
    if not settings.is_sqlite:
        [(options,)] = await _rows(
            settings, "SELECT reloptions FROM pg_class WHERE relname = 'messages'"
        )
        assert options == ["fillfactor=80"]


async def test_0007_clears_the_next_attempt_of_finished_messages_and_gives_waiting_ones_one(
    empty_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, database_url=empty_database)
    upgrade(settings, "0006")
    created, later = datetime(2026, 3, 9, 9, tzinfo=UTC), datetime(2026, 3, 9, 15, tzinfo=UTC)
    t = {"at": created}
    await _rows(
        settings,
        "INSERT INTO cases (tenant, case_ref, debtor, locale, preset, collector_role, debt, state,"
        " created_at, updated_at) VALUES ('t', 'C-1', '{}', 'en', 'US', 'first_party', '{}',"
        " 'active', :at, :at)",
        t,
    )
    await _rows(
        settings,
        "INSERT INTO contact_points (case_id, channel, address, status, created_at, updated_at)"
        " VALUES (1, 'sms', '+14155550100', 'active', :at, :at)",
        t,
    )
    await _rows(
        settings,
        "INSERT INTO template_versions (key, channel, locale, version, status, body, meta, author,"
        " created_at) VALUES ('k', 'sms', 'en', 1, 'published', 'b', '{}', 'builtin', :at)",
        t,
    )
    rows = [
        # id, state, next_attempt_at, not_before
        ("waits-with", "deferred", later, None),
        ("waits-without", "accepted", None, None),
        ("waits-until", "accepted", None, later),
        ("claimed", "sending", created, None),
        ("sent", "sent", created, None),
        ("stopped", "suppressed", later, None),
        ("lost", "unknown", created, None),
    ]
    for message_id, state, next_attempt, not_before in rows:
        await _rows(
            settings,
            "INSERT INTO messages (id, tenant, case_id, contact_id, channel, template_id, purpose,"
            " state, next_attempt_at, not_before, attempts, idempotency_key, request_hash, data,"
            " created_at, updated_at) VALUES (:id, 't', 1, 1, 'sms', 1, 'collection', :state,"
            " :next, :not_before, 0, :id, 'h', '{}', :at, :at)",
            {
                "id": message_id,
                "state": state,
                "next": next_attempt,
                "not_before": not_before,
                "at": created,
            },
        )
    upgrade(settings)
    found = dict(await _rows(settings, "SELECT id, next_attempt_at FROM messages"))

    def instant(value: object) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite hands back its text
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    assert {k: instant(v) for k, v in found.items()} == {
        "waits-with": later,
        "waits-without": created,
        "waits-until": later,
        "claimed": created,
        "sent": None,
        "stopped": None,
        "lost": None,
    }
