"""Migrations 0006 and 0014 on a database that already holds replies (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.settings import Settings
from gateway.store.engine import create_engine
from gateway.store.migrate import upgrade
from tests.conftest import PG_ADMIN_URL, _pg_admin

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
        return
    request.getfixturevalue("postgres_database")  # skips when PostgreSQL is unreachable
    name = f"rg_mig_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _rows(settings: Settings, sql: str, *params: object) -> list[tuple[object, ...]]:
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(sql), params[0] if params else {})
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def test_replays_stored_before_0006_keep_their_evidence_and_only_the_first_its_reference(
    empty_database: str, tmp_path: Path
) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, database_url=empty_database)
    upgrade(settings, "0005")
    insert = (
        "INSERT INTO replies (channel, provider, provider_ref, from_addr, body, category,"
        " received_at, raw) VALUES ('sms', :provider, :ref, '+14155550100', 'STOP', 'opt_out',"
        " :at, '{}')"
    )
    now = datetime(2026, 3, 9, 15, tzinfo=UTC)
    for provider, ref in [
        ("twilio", "SM1"),
        ("twilio", "SM1"),
        ("sandbox", "SM1"),
        ("twilio", None),
    ]:
        asyncio.run(_rows(settings, insert, {"provider": provider, "ref": ref, "at": now}))

    upgrade(settings)

    rows = asyncio.run(
        _rows(settings, "SELECT id, provider, provider_ref FROM replies ORDER BY id")
    )
    assert rows == [
        (1, "twilio", "SM1"),
        (2, "twilio", None),
        (3, "sandbox", "SM1"),
        (4, "twilio", None),
    ]
    with pytest.raises(sa.exc.IntegrityError):
        asyncio.run(_rows(settings, insert, {"provider": "twilio", "ref": "SM1", "at": now}))


def test_replies_stored_before_0014_are_their_cases_tenants_and_the_flagged_ones_open(
    empty_database: str, tmp_path: Path
) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, database_url=empty_database)
    upgrade(settings, "0013")
    now = datetime(2026, 3, 9, 15, tzinfo=UTC)
    asyncio.run(
        _rows(
            settings,
            "INSERT INTO cases (tenant, case_ref, debtor, locale, preset, collector_role, debt,"
            " state, created_at, updated_at) VALUES ('acme', 'R-1', '{}', 'en', 'US-RegF',"
            " 'third_party', '{}', 'active', :at, :at)",
            {"at": now},
        )
    )
    review = (
        """'[{"category": "dispute", "effect": "review", "reasons": ["dispute needs a person"]}]'"""
    )
    for case_id, effects, flagged in [
        ("1", review, "true"),  # a dispute on a case
        ("NULL", "NULL", "true"),  # a sender on no case
        ("1", "'[]'", "false"),  # a STOP acted on
    ]:
        asyncio.run(
            _rows(
                settings,
                "INSERT INTO replies (case_id, channel, provider, from_addr, body, category,"
                f" received_at, raw, effects, needs_review) VALUES ({case_id}, 'sms', 'sandbox',"
                f" '+14155550100', 'text', 'dispute', :at, '{{}}', {effects}, {flagged})",
                {"at": now},
            )
        )

    upgrade(settings)

    rows = asyncio.run(
        _rows(settings, "SELECT tenant, status, review_reasons FROM replies ORDER BY id")
    )
    reasons = [json.loads(r[2]) if isinstance(r[2], str) else r[2] for r in rows]
    assert [(r[0], r[1]) for r in rows] == [("acme", "open"), (None, "open"), ("acme", None)]
    assert reasons == [["dispute needs a person"], ["the sender is on no case"], None]
