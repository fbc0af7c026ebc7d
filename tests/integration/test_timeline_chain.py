"""The case timelines' hash chain: sealed by one sealer at a time, never forked by concurrent
writers, and `reminder-gateway verify-timeline` names any edited, removed or reordered entry."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.services.chain import check_case, seal_pending, verify
from gateway.settings import Settings
from gateway.store import chain, timeline
from gateway.store.tables import cases as C
from gateway.store.tables import timeline as T
from tests.support import ApiClient, case_body, drain, release_receipts, reminder, settings_env


def verify_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "verify-timeline", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _entries(rt: Any, case_ref: str) -> list[Any]:
    async with rt.engine.connect() as conn:
        return list(
            await conn.execute(
                sa.select(T)
                .join(C, C.c.id == T.c.case_id)
                .where(C.c.case_ref == case_ref)
                .order_by(T.c.id)
            )
        )


async def _two_cases(api: ApiClient, runtime: Any) -> None:
    for ref, phone in (("V-1", "+14155550123"), ("V-2", "+14155550124")):
        await api.put(f"/v1/cases/{ref}", case_body(phone=phone, email=None))
        for n in range(3):
            await api.post("/v1/reminders", reminder(ref, "sms", key=f"{ref}-{n}"))
    await drain(runtime)
    await release_receipts(runtime)


async def _exec(rt: Any, *statements: Any) -> None:
    async with rt.engine.begin() as conn:
        for statement in statements:
            await conn.execute(statement)


async def _swap_ids(rt: Any, a: int, b: int) -> None:
    await _exec(
        rt,
        sa.update(T).where(T.c.id == a).values(id=-1),
        sa.update(T).where(T.c.id == b).values(id=a),
        sa.update(T).where(T.c.id == -1).values(id=b),
    )


async def _swap_contents(rt: Any, a: int, b: int) -> None:
    """Everything but the ids traded: the two entries read in each other's place."""
    first, second = [e for e in await _entries(rt, "V-1") if e.id in (a, b)]
    columns = ("at", "kind", "message_id", "actor", "data", "prev_digest", "digest")
    await _exec(
        rt,
        sa.update(T).where(T.c.id == a).values({c: getattr(second, c) for c in columns}),
        sa.update(T).where(T.c.id == b).values({c: getattr(first, c) for c in columns}),
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "tamper", ["edit", "delete_middle", "delete_last", "swap_ids", "swap_contents"]
)
async def test_verify_timeline_names_the_entry_that_was_tampered_with(
    api: ApiClient, runtime: Any, settings: Settings, tamper: str
) -> None:
    await _two_cases(api, runtime)
    untouched = verify_cli(settings)
    assert untouched.returncode == 0, untouched.stdout + untouched.stderr
    async with runtime.engine.connect() as conn:
        total = (await conn.execute(sa.select(sa.func.count()).select_from(T))).scalar_one()
    assert f"{total} timeline entries of 2 case(s) verify" in untouched.stdout

    ids = [e.id for e in await _entries(runtime, "V-1")]
    middle, last = ids[len(ids) // 2], ids[-1]
    named = middle
    if tamper == "edit":
        await _exec(runtime, sa.update(T).where(T.c.id == middle).values(data={"note": "x"}))
    elif tamper == "delete_middle":
        await _exec(runtime, sa.delete(T).where(T.c.id == middle))
        named = ids[len(ids) // 2 + 1]  # the entry that links to the removed one
    elif tamper == "delete_last":
        await _exec(runtime, sa.delete(T).where(T.c.id == last))
        named = last
    elif tamper == "swap_ids":
        await _swap_ids(runtime, middle, ids[len(ids) // 2 + 1])
    else:
        await _swap_contents(runtime, middle, ids[len(ids) // 2 + 1])

    broken = verify_cli(settings)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert re.search(rf"case V-1 \(tenant default\): entry {named} ", broken.stdout), broken.stdout
    assert "V-2" not in broken.stdout, "an untouched case is reported"
    if tamper != "delete_last":
        return
    # One case at a time: the other one still verifies.
    assert verify_cli(settings, "--case", "V-2").returncode == 0
    assert verify_cli(settings, "--case", "V-1").returncode == 1
    missing = verify_cli(settings, "--case", "NOPE")
    assert missing.returncode == 1 and "no case 'NOPE'" in missing.stderr


async def test_the_scheduler_leader_seals_each_tick(api: ApiClient, runtime: Any) -> None:
    from gateway.services.due_work import scheduler

    await api.put("/v1/cases/V-3", case_body())
    await api.post("/v1/reminders", reminder("V-3", "sms"))
    assert all(e.digest is None for e in await _entries(runtime, "V-3"))
    await scheduler(runtime).tick()
    entries = await _entries(runtime, "V-3")
    assert entries and all(e.digest for e in entries)
    async with runtime.engine.connect() as conn:
        head = (await chain.heads(conn, [entries[0].case_id]))[entries[0].case_id]
    assert (head.digest, head.entry, head.count) == (entries[-1].digest, entries[-1].id, 2)


async def test_receipts_and_sends_written_at_once_still_form_one_chain(
    api: ApiClient, runtime: Any
) -> None:
    """A batch is sent while the receipts of the previous one come in and the sealer runs."""
    await api.put("/v1/cases/V-4", case_body())
    first = [reminder("V-4", "sms", key=f"a{n}") for n in range(40)]
    assert (await api.post("/v1/reminders/batch", {"items": first})).status == 202
    await drain(runtime)
    second = [reminder("V-4", "sms", key=f"b{n}") for n in range(40)]
    await api.post("/v1/reminders/batch", {"items": second})
    done = asyncio.Event()

    async def sealing() -> int:
        passes = 0
        while not done.is_set():
            await seal_pending(runtime.engine)
            passes += 1
            await asyncio.sleep(0)
        return passes

    sealer = asyncio.create_task(sealing())
    await asyncio.gather(drain(runtime), release_receipts(runtime))
    await release_receipts(runtime)
    done.set()
    assert await sealer >= 1
    report = await verify(runtime.engine, case_ref="V-4")
    assert report.ok, [str(p) for p in report.problems]
    entries = await _entries(runtime, "V-4")
    assert report.sealed == len(entries) and report.unsealed == 0
    assert len(entries) > 240  # accepted, sent, and receipts for each of 80 messages


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_an_entry_committed_after_a_later_one_was_sealed_is_linked_after_it(
    runtime: Any, api: ApiClient
) -> None:
    """PostgreSQL hands out ids before commit: a lower id can become visible after a higher
    one was sealed. It is linked after it, and concurrent sealers never fork the chain."""
    await api.put("/v1/cases/V-5", case_body())
    [created] = await _entries(runtime, "V-5")
    now = runtime.clock()
    rows = [timeline.entry(created.case_id, "note", now, n=n) for n in range(20)]
    async with runtime.engine.connect() as slow:
        await slow.begin()
        await slow.execute(sa.select(1))
        await timeline.append(slow, rows)  # ids taken, not committed
        async with runtime.engine.begin() as fast:
            await fast.execute(sa.select(1))
            await timeline.append(fast, [{**r, "data": {"late": False}} for r in rows])
        await seal_pending(runtime.engine)
        await slow.commit()
    entries = await _entries(runtime, "V-5")
    assert len(entries) == 41 and sum(e.digest is None for e in entries) == 20
    await asyncio.gather(*(seal_pending(runtime.engine) for _ in range(4)))
    report = await verify(runtime.engine, case_ref="V-5")
    assert report.ok and report.sealed == 41, [str(p) for p in report.problems]
    by_digest = {e.digest: e for e in await _entries(runtime, "V-5")}
    order, link = [], chain.GENESIS
    following = {e.prev_digest: e for e in by_digest.values()}
    while link in following:
        order.append(following[link].id)
        link = following[link].digest
    assert len(order) == 41 and order != sorted(order)  # the late ones follow the sealed ones


def test_entries_not_sealed_yet_are_counted_apart() -> None:
    first = SimpleNamespace(
        id=1,
        case_id=1,
        at="2026-12-01T09:00:00+00:00",
        kind="note",
        message_id=None,
        actor="system",
        data={},
        prev_digest=chain.GENESIS,
    )
    first.digest = chain.digest(first, chain.GENESIS)
    pending = SimpleNamespace(**{**vars(first), "id": 2, "prev_digest": None, "digest": None})
    head = chain.Head(first.digest, 1, 1)
    assert check_case("default", "V-6", head, [first, pending]) == (1, 1, [])
