"""A started gateway process keeps what it loaded out of the cyclic collector's passes and
collects its first generation less often; cycles are still collected."""

from __future__ import annotations

import gc
import weakref

from gateway import gc_tuning


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_settle_freezes_what_was_loaded_and_still_collects_new_cycles() -> None:
    before = gc.get_threshold()
    try:
        gc_tuning.settle()
        assert gc.get_threshold()[0] == gc_tuning.GEN0_THRESHOLD
        assert gc.get_freeze_count() > 0
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
