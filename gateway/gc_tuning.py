"""The cyclic garbage collector, tuned for a long-running gateway process.

Each batch allocates tens of thousands of short-lived objects (rows, dicts, rendered parts) that
reference counting frees; few of them form cycles. With CPython's default first-generation
threshold (700 allocations) the collector runs hundreds of times a second and, at each pass
of the older generations, walks every object the process has ever kept: the modules, templates,
presets and calendars loaded at start. Sampled with `perf record` during a `make bench` SMS
run, that was over a fifth of a worker's CPU. So, once a process has started: what it loaded is
frozen out of the collector's reach (`gc.freeze`), and the first generation is collected every
50,000 allocations instead.
Cycles are still collected; memory stays bounded.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 50_000


def settle() -> None:
    """Call once the process has loaded what it keeps (its app, runtime, templates)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
