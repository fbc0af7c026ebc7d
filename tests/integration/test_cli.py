"""The command line: migrate, keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.store.templates import load_pack

pytestmark = pytest.mark.slow


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "DATABASE_"))}
    env["GATEWAY_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_then_create_a_key(tmp_path: Path) -> None:
    migrated = cli(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"{len(load_pack())} built-in template(s) installed" in migrated.stdout
    again = cli(tmp_path, "migrate")
    assert "0 built-in template(s) installed" in again.stdout

    made = cli(
        tmp_path,
        "keys",
        "create",
        "--scope",
        "reminders:write",
        "--scope",
        "cases:read",
        "--name",
        "crm",
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("rg_") and len(key) > 30

    import asyncio

    from gateway.settings import Settings
    from gateway.store import keys
    from gateway.store.engine import create_engine

    async def check() -> frozenset[str]:
        engine = create_engine(Settings.from_env({}, data_dir=tmp_path))
        async with engine.connect() as conn:
            found = await keys.verify(conn, key)
            stored = (await conn.exec_driver_sql("SELECT secret_hash FROM api_keys")).scalar_one()
        await engine.dispose()
        assert key not in stored  # only a hash is kept
        assert found is not None
        return found.scopes

    assert asyncio.run(check()) == {"reminders:write", "cases:read"}


def test_unknown_scope_is_refused(tmp_path: Path) -> None:
    cli(tmp_path, "migrate")
    bad = cli(tmp_path, "keys", "create", "--scope", "everything")
    assert bad.returncode == 2 and "unknown scope" in bad.stderr


def test_bad_configuration_is_reported_not_a_traceback(tmp_path: Path) -> None:
    env_bad = cli(tmp_path, "migrate")
    assert env_bad.returncode == 0
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "migrate"],
        capture_output=True,
        text=True,
        env={**os.environ, "GATEWAY_DATA_DIR": str(tmp_path), "SMTP_PORT": "lots"},
    )
    assert (
        result.returncode == 2 and "SMTP_PORT" in result.stderr and "Traceback" not in result.stderr
    )
