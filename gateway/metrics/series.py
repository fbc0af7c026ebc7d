"""Metric series kept as plain Python numbers, turned into Prometheus families only when scraped.

`prometheus_client`'s own metrics take a lock on every `inc()` and `observe()`, so that any thread
may write them. The gateway's processes do not need that: every series of a process is written by
one thread (the worker's or the scheduler's event loop) and read by the endpoint served on that
same loop, so an update is a dict lookup and an addition, and a scrape cannot see half of one.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

Labels = tuple[str, ...]


class Counts:
    """A counter family: label values → running total. A family without labels starts at 0."""

    __slots__ = ("help", "labels", "name", "values")

    def __init__(
        self, name: str, help: str, labels: Iterable[str] = (), initial: Iterable[Labels] = ()
    ):
        self.name, self.help, self.labels = name, help, tuple(labels)
        self.values: dict[Labels, float] = {} if self.labels else {(): 0.0}
        # Known label sets start at 0, so a rate() over them exists before the first event.
        self.values.update(dict.fromkeys(initial, 0.0))

    def inc(self, key: Labels = (), n: float = 1.0) -> None:
        self.values[key] = self.values.get(key, 0.0) + n

    def add(self, tally: Mapping[Labels, float]) -> None:
        """Add a batch's counts at once (one update per distinct label set, not per message)."""
        values = self.values
        for key, n in tally.items():
            values[key] = values.get(key, 0.0) + n

    def value(self, key: Labels = ()) -> float:
        return self.values.get(key, 0.0)

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.help, labels=self.labels)
        for key, value in list(self.values.items()):
            family.add_metric(list(key), value)
        return family


class Levels:
    """A gauge family: label values → the current level."""

    __slots__ = ("help", "labels", "name", "values")

    def __init__(self, name: str, help: str, labels: Iterable[str] = ()):
        self.name, self.help, self.labels = name, help, tuple(labels)
        self.values: dict[Labels, float] = {} if self.labels else {(): 0.0}

    def set(self, key: Labels, value: float) -> None:
        self.values[key] = value

    def replace(self, values: Mapping[Labels, float]) -> None:
        """Every level at once, as sampled: a label set no longer sampled disappears."""
        self.values = dict(values)

    def family(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.help, labels=self.labels)
        for key, value in list(self.values.items()):
            family.add_metric(list(key), value)
        return family


class Timings:
    """A histogram family with fixed bucket bounds (seconds, ascending)."""

    __slots__ = ("bounds", "help", "labels", "name", "series")

    def __init__(self, name: str, help: str, labels: Iterable[str], bounds: Iterable[float]):
        self.name, self.help, self.labels = name, help, tuple(labels)
        self.bounds = tuple(sorted(bounds))
        # Per label set: one count per bucket (not cumulative; the last is +Inf), then the sum.
        self.series: dict[Labels, list[float]] = {}

    def observe(self, key: Labels, value: float) -> None:
        counts = self.series.get(key)
        if counts is None:
            counts = self.series[key] = [0.0] * (len(self.bounds) + 2)
        # `le` is inclusive: a value equal to a bound belongs to that bound's bucket.
        counts[bisect_left(self.bounds, value)] += 1
        counts[-1] += value

    def count(self, key: Labels) -> float:
        return sum(self.series.get(key, [0.0])[:-1])

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.help, labels=self.labels)
        edges = [floatToGoString(b) for b in self.bounds] + [floatToGoString(math.inf)]
        for key, counts in list(self.series.items()):
            snapshot = list(counts)
            running, buckets = 0.0, []
            for edge, n in zip(edges, snapshot[:-1], strict=True):
                running += n
                buckets.append((edge, running))
            family.add_metric(list(key), buckets, sum_value=snapshot[-1])
        return family


Series = Counts | Levels | Timings
