"""Inserting many rows at once: `COPY` on PostgreSQL, one executemany statement elsewhere.

An intake batch writes a thousand messages and as many timeline entries. As an executemany, each
row is a statement PostgreSQL binds, plans and runs on its own; `COPY … FROM STDIN (binary)`
streams them into one command (asyncpg's `copy_records_to_table`), which costs the server about
half as much per row. The rows keep every rule of the table: constraints, foreign keys, indexes
and column defaults, and the rows belong to the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

# Below this many rows the statement's set-up outweighs what COPY saves.
COPY_FROM = 16


async def insert(conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts of column values; every row the same keys) into `table`."""
    if not rows:
        return
    if len(rows) >= COPY_FROM and conn.dialect.name == "postgresql" and _alike(rows):
        driver = await _in_transaction(conn)
        if driver is not None:
            columns, records = _records(conn, table, rows)
            try:
                await driver.copy_records_to_table(table.name, records=records, columns=columns)
            except asyncpg.IntegrityConstraintViolationError as exc:
                # As the executemany would have raised it: callers catch SQLAlchemy's errors (an
                # idempotency key inserted meanwhile by another request).
                raise sa.exc.IntegrityError(f"COPY {table.name}", None, exc) from exc
            except asyncpg.PostgresError as exc:
                raise sa.exc.DBAPIError(f"COPY {table.name}", None, exc) from exc
            return
    await conn.execute(sa.insert(table), list(rows))


def _alike(rows: Sequence[dict[str, Any]]) -> bool:
    keys = rows[0].keys()
    return all(row.keys() == keys for row in rows)


async def _in_transaction(conn: AsyncConnection) -> Any | None:
    """The asyncpg connection, if the caller's transaction has begun on the server.

    SQLAlchemy's asyncpg adapter sends BEGIN with the first statement of a transaction; a COPY
    sent before that would commit on its own. Callers insert after reading (the idempotency
    keys, the batch's rows), so the transaction has begun; when it has not, the executemany path
    begins it."""
    raw = await conn.get_raw_connection()
    adapted = raw.dbapi_connection
    if getattr(adapted, "_transaction", None) is None:
        return None
    return raw.driver_connection


def _records(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and each row's values as asyncpg binds them: through each column type's
    bind processing (aware timestamps, JSON as text) and with the tables' Python-side defaults;
    columns with neither a value nor such a default take the server's (a serial id)."""
    dialect = conn.dialect
    given = list(rows[0])
    defaults = {
        c.name: c.default.arg  # type: ignore[attr-defined]  # a scalar default
        for c in table.columns
        if c.name not in rows[0] and c.default is not None and c.default.is_scalar
    }
    names = given + list(defaults)
    processors: list[Callable[[Any], Any] | None] = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    ]
    fixed = tuple(defaults.values())
    records = []
    for row in rows:
        values = tuple(row[name] for name in given) + fixed
        records.append(
            tuple(
                value if process is None or value is None else process(value)
                for value, process in zip(values, processors, strict=True)
            )
        )
    return names, records
