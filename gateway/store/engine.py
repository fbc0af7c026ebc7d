"""Database engines: one async engine per process, SQLite tuned for several processes."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from gateway.settings import Settings


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the API, the workers and the scheduler read while one of them writes;
    # busy_timeout makes a writer wait for the lock instead of failing at once.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class SqliteWriteGate:
    """Hands SQLite's single write lock to waiting writers promptly.

    Several processes write one SQLite file (API, workers, scheduler). SQLite makes a blocked writer
    poll with sleeps that grow to 100 ms, so under load a short worker transaction can stall for
    a long time behind the API's bulk inserts. Writers here first take an exclusive `flock` on a
    side file, which the kernel hands over the moment it is released. It is taken (without blocking
    the event loop) just before a connection's first write statement and released when the
    connection goes back to the pool, i.e. after its commit or rollback.
    """

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
    KEY = "rg_write_gate_fd"

    def __init__(self, path: str):
        self.path = path

    def install(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine.pool, "checkin", self._release)

    def _before(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        info = conn.connection.info
        if self.KEY in info or not statement.lstrip()[:7].upper().startswith(self.WRITES):
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            await_only(asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX))
        except BaseException:
            os.close(fd)
            raise
        info[self.KEY] = fd

    def _release(self, _dbapi_conn: Any, record: Any) -> None:
        fd = record.info.pop(self.KEY, None)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


_ORJSON = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def json_dumps(value: Any) -> str:
    """JSON columns' text: orjson (a tenth of `json.dumps`'s time for a message's data), with
    `json.dumps` for what orjson refuses (an integer beyond 64 bits), so the same values are
    stored, and the same values refused, as before."""
    try:
        return orjson.dumps(value, option=_ORJSON).decode()
    except TypeError:
        return json.dumps(value)


# orjson reads an integer beyond 64 bits as a float, silently: such text is read by `json`.
_LONG_NUMBER = re.compile(r"\d{19}")


def json_loads(text: str | bytes) -> Any:
    """JSON columns' values: orjson (a third of `json.loads`'s time for a case's debtor and
    debt), with `json.loads` for text orjson would read differently (long integers) or refuses."""
    if _LONG_NUMBER.search(text if isinstance(text, str) else text.decode()):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def create_engine(settings: Settings, *, keyed: bool = False, **kwargs: Any) -> AsyncEngine:
    """`keyed`: every query of this process finds its rows through an index (a worker's: by id,
    case, contact point). PostgreSQL is then told not to plan sequential scans: on tables it has
    not analysed yet (a new database, a table that grew since) it reckons `case_id IN (…100 ids)`
    matches half the table and scans all of it, for every batch."""
    url = settings.async_database_url
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", json_loads)
    if settings.is_sqlite:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if path and path != ":memory:":
            SqliteWriteGate(f"{path}.writelock").install(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    if keyed:
        kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})[
            "enable_seqscan"
        ] = "off"
    return create_async_engine(url, **kwargs)
