"""Many rows at once (`gateway.store.bulk`): COPY on PostgreSQL, with the same rows, the same
transaction and the same errors as the executemany it replaces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from gateway.store import bulk
from gateway.store import timeline as timeline_store
from gateway.store.tables import cases as C
from gateway.store.tables import messages as M
from gateway.store.tables import timeline as T
from tests.support import ApiClient, case_body, reminder

AT = datetime(2026, 12, 3, 9, 30, 15, 123456, tzinfo=UTC)


async def _case_id(api: ApiClient, runtime: Any, ref: str) -> int:
    await api.put(f"/v1/cases/{ref}", case_body())
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(sa.select(C.c.id).where(C.c.case_ref == ref))).scalar_one())


def _entries(case_id: int, n: int) -> list[dict[str, Any]]:
    return [
        timeline_store.entry(
            case_id,
            "note",
            AT + timedelta(seconds=i),
            message_id=None if i % 2 else f"m{i}",
            note=f"entry {i} – 第{i}条",
            nested={"n": i, "list": [1, None, True]},
        )
        for i in range(n)
    ]


def _inserts(runtime: Any) -> list[str]:
    """The INSERT statements SQLAlchemy sends from now on (a COPY is not one of them)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            seen.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", record)
    return seen


async def test_rows_come_back_as_they_went_in(api: ApiClient, runtime: Any) -> None:
    case_id = await _case_id(api, runtime, "B-1")
    entries = _entries(case_id, bulk.COPY_FROM + 4)
    inserts = _inserts(runtime)
    async with runtime.engine.begin() as conn:
        await conn.execute(sa.select(1))  # the transaction has begun, as every caller's has
        await bulk.insert(conn, T, entries)
    # PostgreSQL took them by COPY; SQLite by one executemany.
    assert len(inserts) == (0 if runtime.engine.dialect.name == "postgresql" else 1)
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(T).where(T.c.case_id == case_id, T.c.kind == "note").order_by(T.c.id)
            )
        ).all()
    assert [(r.at, r.message_id, r.actor, r.data) for r in rows] == [
        (e["at"], e["message_id"], e["actor"], e["data"]) for e in entries
    ]
    assert len({r.id for r in rows}) == len(entries)  # the server's serial ids


async def test_a_failed_transaction_leaves_none_of_its_rows(api: ApiClient, runtime: Any) -> None:
    case_id = await _case_id(api, runtime, "B-2")
    with pytest.raises(RuntimeError):
        async with runtime.engine.begin() as conn:
            await conn.execute(sa.select(1))
            await bulk.insert(conn, T, _entries(case_id, bulk.COPY_FROM * 2))
            raise RuntimeError("the caller fails after inserting")
    async with runtime.engine.connect() as conn:
        count = await conn.execute(
            sa.select(sa.func.count())
            .select_from(T)
            .where(T.c.case_id == case_id, T.c.kind == "note")
        )
        assert count.scalar_one() == 0


async def test_a_constraint_violation_is_sqlalchemy_s_integrity_error(
    api: ApiClient, runtime: Any
) -> None:
    # Intake retries on IntegrityError when another request used an idempotency key meanwhile.
    await api.put("/v1/cases/B-3", case_body())
    items = [reminder("B-3", "sms", key=f"k{i}") for i in range(bulk.COPY_FROM)]
    accepted = (await api.post("/v1/reminders/batch", {"items": items})).body["results"]
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(M).where(M.c.id.in_([r["id"] for r in accepted])))
        ).all()
    again = [{**row._asdict(), "id": f"{row.id[:-2]}zz"} for row in rows]
    with pytest.raises(sa.exc.IntegrityError):
        async with runtime.engine.begin() as conn:
            await conn.execute(sa.select(1))
            await bulk.insert(conn, M, again)
    with pytest.raises(sa.exc.IntegrityError):  # a foreign key, too
        async with runtime.engine.begin() as conn:
            await conn.execute(sa.select(1))
            await bulk.insert(conn, T, _entries(10**9, bulk.COPY_FROM))


async def test_an_intake_batch_by_copy_reads_back_whole(api: ApiClient) -> None:
    await api.put("/v1/cases/B-4", case_body())
    items = [
        reminder("B-4", "sms", key=f"i{i}", data={"n": i, "note": "über 第一"})
        for i in range(bulk.COPY_FROM + 1)
    ]
    results = (await api.post("/v1/reminders/batch", {"items": items})).body["results"]
    assert {r["status"] for r in results} == {"accepted"}
    got = (await api.get(f"/v1/messages/{results[-1]['id']}")).body
    assert got["state"] in ("accepted", "queued") and got["attempts"] == 0
    again = (await api.post("/v1/reminders/batch", {"items": items})).body["results"]
    assert [r["status"] for r in again] == ["duplicate"] * len(items)
    timeline = (await api.get("/v1/cases/B-4/timeline")).body["entries"]
    assert sum(e["kind"] == "accepted" for e in timeline) == len(items)
