"""Identifiers: time-ordered, URL-safe, generated in the process so batches need no round trip."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """28 hex characters: 12 of milliseconds since the epoch, 16 random. Sorts by creation time."""
    return f"{int(time.time() * 1000):012x}{os.urandom(8).hex()}"
