"""Test sessions running side by side on one Redis server each get a database of their own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis

from tests.conftest import LOCAL_REDIS, _reachable
from tests.redis_db import CLAIM, _try_claim, claimed_database

pytestmark = pytest.mark.skipif(not _reachable(LOCAL_REDIS), reason="no local Redis server")


def test_two_sessions_never_share_a_database() -> None:
    with claimed_database(LOCAL_REDIS) as first, claimed_database(LOCAL_REDIS) as second:
        assert first != second
    # Released at the end: the same database can be claimed again.
    with claimed_database(LOCAL_REDIS) as again:
        assert again in range(1, 15)


def test_a_claim_left_by_a_finished_session_is_taken_over_and_a_live_one_is_not() -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    me = str(os.getpid())
    admin = redis.Redis.from_url(f"{LOCAL_REDIS}/0")
    try:
        with claimed_database(LOCAL_REDIS) as db:
            key = CLAIM.format(db)
            admin.set(key, finished)
            assert _try_claim(admin, db, me), "a dead session's claim was not taken over"
            assert admin.get(key) == me.encode()
            admin.set(key, "1")  # init: alive, and never ours
            assert not _try_claim(admin, db, me)
            admin.set(key, me)
    finally:
        admin.close()
