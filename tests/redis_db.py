"""A Redis database of its own for each test session on a shared Redis server.

Tests flush their database around every test (and some flush it on purpose, to lose jobs), so two
sessions sharing a database wipe each other's queues: a job enqueued by one disappears and its
message is never dispatched. Picking the database from the process id is not enough on a machine
where several sessions run at once, so a session claims a database with a key in database 0 that
names its process, and releases it at the end. A claim whose process is gone is taken over.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

DATABASES = range(1, 15)  # 0 holds the claims; the benchmark uses 15
CLAIM = "reminder-gateway:tests:redis-db:{}"
CLAIM_TTL_S = 24 * 3600  # a safety net only: a dead holder's claim is taken over at once
# Delete the claim only if it is still the one we saw (compare-and-delete).
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


def _alive(holder: bytes | None) -> bool:
    if holder is None:
        return False
    try:
        os.kill(int(holder), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True  # someone else's process, or not ours to judge: leave it
    return True


def _try_claim(admin: redis.Redis, db: int, me: str) -> bool:
    key = CLAIM.format(db)
    if admin.set(key, me, nx=True, ex=CLAIM_TTL_S):
        return True
    holder = admin.get(key)
    if holder is not None and not _alive(holder):
        admin.eval(RELEASE, 1, key, holder)
        return bool(admin.set(key, me, nx=True, ex=CLAIM_TTL_S))
    return False


@contextmanager
def claimed_database(server: str, wait_s: float = 600.0) -> Iterator[int]:
    """Claim a free database number on `server` (redis://host:port) for as long as the block runs;
    wait for one while every database is taken by a running session."""
    admin = redis.Redis.from_url(f"{server}/0")
    me = str(os.getpid())
    start = os.getpid() % len(DATABASES)  # spread sessions out before they collide
    order = [DATABASES[(start + i) % len(DATABASES)] for i in range(len(DATABASES))]
    deadline = time.monotonic() + wait_s
    try:
        while True:
            db = next((d for d in order if _try_claim(admin, d, me)), None)
            if db is not None:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"every test Redis database on {server} stayed taken")
            time.sleep(1.0)  # another session's end frees one; nothing to wait on across processes
        try:
            yield db
        finally:
            admin.eval(RELEASE, 1, CLAIM.format(db), me)
    finally:
        admin.close()
