"""The benchmark's client side: cases and reminder batches over HTTP, progress from the database."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson
import sqlalchemy as sa

from bench import cases as bench_cases
from bench.gateway import Gateway
from bench.procs import log


async def put_cases(
    session: aiohttp.ClientSession,
    base: str,
    key: str,
    profile: bench_cases.Profile,
    refs: list[str],
) -> None:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    gate = asyncio.Semaphore(8)

    async def one(i: int, ref: str) -> None:
        async with (
            gate,
            session.put(
                f"{base}/v1/cases/{ref}",
                data=orjson.dumps(bench_cases.case_body(profile, i)),
                headers=headers,
            ) as resp,
        ):
            if resp.status not in (200, 201):
                raise RuntimeError(
                    f"PUT /v1/cases/{ref} answered {resp.status}: {(await resp.text())[:300]}"
                )

    await asyncio.gather(*(one(i, ref) for i, ref in enumerate(refs)))


def batches(items: list[dict[str, Any]], size: int = 1000) -> list[bytes]:
    return [orjson.dumps({"items": items[i : i + size]}) for i in range(0, len(items), size)]


async def submit(
    session: aiohttp.ClientSession, bases: list[str], key: str, bodies: list[bytes], clients: int
) -> int:
    """POST every batch, `clients` at a time (spread over `bases`); return how many were accepted."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    pending = list(reversed(bodies))
    accepted = 0

    async def client(base: str) -> None:
        nonlocal accepted
        while pending:
            body = pending.pop()
            async with session.post(
                f"{base}/v1/reminders/batch", data=body, headers=headers
            ) as resp:
                raw = await resp.read()
                if resp.status != 202:
                    raise RuntimeError(f"batch answered {resp.status}: {raw[:300]!r}")
                out = orjson.loads(raw)
                if out["rejected"]:
                    first = next(r for r in out["results"] if r["status"] == "rejected")
                    raise RuntimeError(f"{out['rejected']} reminders rejected, e.g. {first}")
                accepted += out["accepted"]

    await asyncio.gather(*(client(bases[i % len(bases)]) for i in range(clients)))
    return accepted


async def states(engine: Any) -> dict[str, int]:
    from gateway.store.tables import messages as M

    async with engine.connect() as conn:
        return {
            r[0]: r[1]
            for r in await conn.execute(sa.select(M.c.state, sa.func.count()).group_by(M.c.state))
        }


async def wait_sent(
    gw: Gateway,
    engine: Any,
    n: int,
    started: float,
    stall_s: float = 30.0,
    progress: list[tuple[float, int]] | None = None,
) -> float:
    """Poll until `n` messages are `sent`; return the time that was first seen (perf_counter).

    Each poll's (seconds since `started`, messages sent) is appended to `progress`. A poll is a
    count over the whole table (8 ms of PostgreSQL's CPU for 20,000 messages, a sixth of what the
    database did in an SMS run when it polled every 150 ms), so it polls when a quarter of what
    remains should be done at the pace so far: seldom at first, every 50 ms at the end, where
    the poll's timing decides the figure.
    """
    from gateway.store.tables import messages as M

    query = sa.select(sa.func.count()).select_from(M).where(M.c.state == "sent")
    last, last_change = -1, time.perf_counter()
    while True:
        async with engine.connect() as conn:
            sent = (await conn.execute(query)).scalar_one()
        now = time.perf_counter()
        if progress is not None:
            progress.append((now - started, sent))
        if sent >= n:
            return now
        if sent != last:
            last, last_change = sent, now
        elif now - last_change > stall_s:
            raise RuntimeError(
                f"{gw.name}: stuck at {sent}/{n} sent for {stall_s:.0f}s; "
                f"states {await states(engine)}; {now - started:.1f}s in"
            )
        gw.run.procs.check_alive()
        pace = sent / (now - started) if sent else 0.0
        await asyncio.sleep(min(1.0, max(0.05, (n - sent) / pace / 4)) if pace else 0.25)


async def table_stats(engine: Any, n: int) -> dict[str, Any]:
    """On PostgreSQL: rows inserted and updated per table and how many updates were HOT (logged),
    and the writes per message on `messages` (returned). Call it once the gateway's processes have
    stopped: a backend reports its counts when it ends (or only every few seconds while idle)."""
    if engine.dialect.name != "postgresql":
        return {}
    async with engine.connect() as conn:
        others = sa.text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        deadline = time.monotonic() + 10
        # Nothing signals a backend's end to another session: ask until none is left.
        while (await conn.execute(others)).scalar_one() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await conn.commit()  # a new snapshot of the statistics
        rows = list(
            await conn.execute(
                sa.text(
                    "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                    "WHERE n_tup_ins + n_tup_upd > 0 ORDER BY n_tup_ins + n_tup_upd DESC"
                )
            )
        )
    log("  table writes: " + ", ".join(f"{r[0]} ins={r[1]} upd={r[2]} hot={r[3]}" for r in rows))
    messages = next((r for r in rows if r[0] == "messages"), None)
    if messages is None or not n:
        return {}
    updates, hot = messages[2], messages[3]
    return {
        "message_updates_per_message": round(updates / n, 2),
        "message_hot_update_pct": round(100 * hot / updates, 1) if updates else 0.0,
        "writes_per_message": round(sum(r[1] + r[2] for r in rows) / n, 2),
    }


def reminders(refs: list[str], channel: str) -> list[dict[str, Any]]:
    return [
        {
            "case_ref": ref,
            "template": "first_notice",
            "channel": channel,
            "idempotency_key": f"{ref}-{channel}",
        }
        for ref in refs
    ]


def http_session(clients: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=clients + 8), timeout=aiohttp.ClientTimeout(total=300)
    )
