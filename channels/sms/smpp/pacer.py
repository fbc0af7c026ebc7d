"""Submit pacing after the SMSC says it is overloaded (ESME_RTHROTTLED, ESME_RMSGQFUL)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable


class Pacer:
    """Spaces submits out after the SMSC said it is overloaded.

    Each throttle doubles the gap between submits (from `floor_s` up to `cap_s`); each `relax_s`
    without one halves it, down to no gap at all, so the rate recovers by itself.
    """

    def __init__(
        self,
        floor_s: float = 0.05,
        cap_s: float = 2.0,
        relax_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.floor_s, self.cap_s, self.relax_s, self.clock = floor_s, cap_s, relax_s, clock
        self.gap = 0.0
        self._next = 0.0
        self._since = -math.inf

    def throttled(self) -> None:
        self.gap = min(self.cap_s, max(self.floor_s, self.gap * 2))
        self._since = self.clock()

    def _relax(self, now: float) -> None:
        while self.gap and now - self._since >= self.relax_s:
            self._since += self.relax_s
            self.gap = self.gap / 2 if self.gap / 2 >= self.floor_s else 0.0

    async def slot(self) -> None:
        """Wait for this submit's turn (no wait at all unless recently throttled)."""
        now = self.clock()
        self._relax(now)
        if not self.gap:
            return
        at = max(now, self._next)
        self._next = at + self.gap
        if at > now:
            await asyncio.sleep(at - now)
