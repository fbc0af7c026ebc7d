"""What dispatch asks of the database: round trips per batch, row writes per message, HOT updates.

PostgreSQL is the production database: a batch's statements must not grow with the batch (each
one is a round trip and a parse/plan/execute), and the lifecycle updates of a message must be
heap-only (HOT) where they can, i.e. change no indexed column, so that they add no index entries.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from gateway.services.dispatch import dispatch
from gateway.store import bulk
from tests.support import ApiClient, case_body, release_receipts, reminder


async def _messages(api: ApiClient, prefix: str, n: int) -> list[str]:
    """`n` SMS reminders, each to a debtor of their own (a number and an address each)."""
    for i in range(n):
        body = case_body(phone=f"+1415555{100 + i:04d}", email=f"{prefix.lower()}{i}@example.com")
        await api.put(f"/v1/cases/{prefix}-{i}", body)
    items = [reminder(f"{prefix}-{i}", "sms") for i in range(n)]
    out = await api.post("/v1/reminders/batch", {"items": items})
    return [r["id"] for r in out.body["results"]]


async def _statements_of_dispatch(runtime: Any, ids: list[str]) -> int:
    executed = 0

    def count(*_: Any) -> None:
        nonlocal executed
        executed += 1

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        counts = await dispatch(runtime, ids)
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
    assert counts["sent"] == len(ids), counts
    return executed


async def test_a_batch_costs_the_same_statements_whatever_its_size(
    api: ApiClient, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Counted as SQLAlchemy sends them: a COPY (gateway.store.bulk, from 16 rows on PostgreSQL)
    # is not seen here, so every insert is left an executemany for the count.
    monkeypatch.setattr(bulk, "COPY_FROM", 10**9)
    await _statements_of_dispatch(runtime, await _messages(api, "W", 1))  # caches the template
    small = await _statements_of_dispatch(runtime, await _messages(api, "S", 3))
    large = await _statements_of_dispatch(runtime, await _messages(api, "L", 30))
    # Locks, history, decisions and outcomes are per batch: thirty debtors cost what three do.
    assert large == small


class _XactUpdates:
    """Counts the updates of `messages` made by every committed transaction of this process (the
    API's and the worker's engines alike), and how many were heap-only, from PostgreSQL's own
    statistics of the transaction in progress, read as it begins and just before it commits."""

    SQL = "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'messages'"

    def __init__(self) -> None:
        self.updates = self.hot = 0
        self.began: dict[int, tuple[int, int]] = {}

    def _read(self, conn: Any) -> tuple[int, int]:
        row = conn.exec_driver_sql(self.SQL).one()
        return int(row[0]), int(row[1])

    def _begin(self, conn: Any) -> None:
        self.began[id(conn)] = self._read(conn)

    def _commit(self, conn: Any) -> None:
        updates, hot = self._read(conn)
        updates0, hot0 = self.began.pop(id(conn))
        self.updates += updates - updates0
        self.hot += hot - hot0

    def __enter__(self) -> _XactUpdates:
        event.listen(Engine, "begin", self._begin)
        event.listen(Engine, "commit", self._commit)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(Engine, "begin", self._begin)
        event.remove(Engine, "commit", self._commit)


@pytest.mark.postgres
async def test_a_message_is_updated_in_place_except_where_it_gains_a_provider_reference(
    api: ApiClient, runtime: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("heap-only updates are PostgreSQL's")
    [message_id] = await _messages(api, "H", 1)
    with _XactUpdates() as counted:
        await dispatch(runtime, [message_id])
        await release_receipts(runtime)
    message = (await api.get(f"/v1/messages/{message_id}")).body
    assert message["state"] == "delivered"
    # Claimed, handed to the provider, sent (the provider's reference is indexed: receipts find
    # the message by it), delivered: only the third adds index entries.
    assert (counted.updates, counted.hot) == (3, 2)


@pytest.mark.postgres
async def test_a_worker_finds_rows_by_index_on_a_table_postgresql_has_not_analysed(
    runtime: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's planner")
    async with runtime.engine.connect() as conn:
        await conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE unanalysed AS SELECT g AS case_id, 'x' AS pad"
            " FROM generate_series(1, 20000) AS g"
        )
        await conn.exec_driver_sql("CREATE INDEX ON unanalysed (case_id)")
        wanted = ", ".join(str(i) for i in range(1, 101))
        plan = "\n".join(
            row[0]
            for row in await conn.exec_driver_sql(
                f"EXPLAIN SELECT pad FROM unanalysed WHERE case_id IN ({wanted})"
            )
        )
    # Without statistics PostgreSQL reckons 100 ids match half the table; a worker's lookups
    # would scan every message of every batch.
    assert "Seq Scan" not in plan, plan


@pytest.mark.postgres
async def test_a_batch_s_debtor_identities_are_read_by_case_on_tables_not_analysed(
    runtime: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's planner")
    from gateway.store import history

    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    async with runtime.engine.connect() as conn:
        # Thousands of debtors just imported, before autovacuum has analysed anything.
        await conn.exec_driver_sql(
            "INSERT INTO cases (tenant, case_ref, debtor, locale, preset, collector_role, debt,"
            " state, created_at, updated_at) SELECT 'default', 'IMPORT-' || g,"
            " '{\"name\": \"A\"}', 'en', 'US-RegF', 'first_party', '{}', 'active', now(), now()"
            " FROM generate_series(1, 3000) AS g"
        )
        await conn.exec_driver_sql(
            "INSERT INTO contact_points (case_id, channel, address, status, role, created_at,"
            " updated_at) SELECT id, c.channel, c.channel || id, 'active', 'debtor', now(), now()"
            " FROM cases, (VALUES ('sms'), ('email'), ('letter')) AS c(channel)"
        )
        ids = [r[0] for r in await conn.exec_driver_sql("SELECT id FROM cases LIMIT 100")]
        await conn.exec_driver_sql("SET enable_seqscan = off")  # as the worker's engine does
        event.listen(conn.sync_connection, "before_cursor_execute", capture)
        found = await history.identities(conn, ids)
        event.remove(conn.sync_connection, "before_cursor_execute", capture)
        statement, parameters = captured[-1]
        plan = "\n".join(
            row[0] for row in await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        )
        await conn.rollback()
    assert all(len(addresses) == 2 for addresses in found.values())
    # Through the case's own index, not every contact point of a channel for each batch.
    assert "uq_contact_points_case_id_channel_address" in plan, plan
    assert "ix_contact_points_channel_address" not in plan, plan


async def test_a_batch_s_per_message_values_land_on_their_own_rows(
    api: ApiClient, runtime: Any
) -> None:
    # PostgreSQL takes per-message values as arrays in one statement (messages.transition_each):
    # each row gets its own values, only rows still in a source state and under the claim move.
    from datetime import timedelta

    import sqlalchemy as sa

    from gateway.states import State
    from gateway.store import messages as message_store
    from gateway.store.tables import messages as M

    ids = await _messages(api, "V", 4)
    now = runtime.clock()
    async with runtime.engine.begin() as conn:
        await conn.execute(
            sa.update(M).where(M.c.id.in_(ids[:3])).values(state="dispatching", claim_token="t1")
        )
        await conn.execute(
            sa.update(M).where(M.c.id == ids[3]).values(state="dispatching", claim_token="other")
        )
        await message_store.transition_each(
            conn,
            [
                {
                    "id": i,
                    "attempts": n + 1,
                    "rendered": {"body": f"text {n}"},
                    "lease_until": now + timedelta(seconds=n),
                }
                for n, i in enumerate(ids)
            ],
            State.SENDING,
            now=now,
            held_by="t1",
        )
    async with runtime.engine.connect() as conn:
        rows = {
            r.id: r
            for r in await conn.execute(
                sa.select(M.c.id, M.c.state, M.c.attempts, M.c.rendered).where(M.c.id.in_(ids))
            )
        }
    for n, i in enumerate(ids[:3]):
        assert (rows[i].state, rows[i].attempts, rows[i].rendered) == (
            "sending",
            n + 1,
            {"body": f"text {n}"},
        )
    assert rows[ids[3]].state == "dispatching" and rows[ids[3]].rendered is None
