"""The metric series, the counting hooks and the README's metric list, without a server."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import promql_parser
import pytest
import redis.asyncio as aredis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from channels.base import (
    DeliveryUnknown,
    Outgoing,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
)
from gateway.api.ops import Metrics as ApiMetrics
from gateway.exporter.sampled import sample_queues
from gateway.exporter.server import SeriesCollector, registry_for
from gateway.metrics.recorder import Metrics
from gateway.metrics.series import Counts, Timings
from gateway.services.verdicts import Verdicts
from scheduler.decisions import Decision, Verdict
from tests.support import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def exposition(*series: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SeriesCollector(list(series)))
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def nonzero(values: dict[Any, float]) -> dict[Any, float]:
    return {k: v for k, v in values.items() if v}


def test_known_label_sets_are_exported_from_zero() -> None:
    got = exposition(Metrics().claims, Metrics().transitions)
    assert got[("gateway_claims_total", frozenset({("result", "skipped")}))] == 0
    assert got[("gateway_message_transitions_total", frozenset({("to", "unknown")}))] == 0


def test_histogram_buckets_are_cumulative_and_inclusive() -> None:
    t = Timings("gateway_x_seconds", "x", ("provider",), (0.0, 0.1, 1.0))
    for v in (0.0, 0.05, 0.1, 0.5, 3.0):
        t.observe(("p",), v)
    got = exposition(t)
    bucket = {
        dict(labels)["le"]: v for (name, labels), v in got.items() if name.endswith("_bucket")
    }
    assert bucket == {"0.0": 1, "0.1": 3, "1.0": 4, "+Inf": 5}
    assert got[("gateway_x_seconds_count", frozenset({("provider", "p")}))] == 5
    assert got[("gateway_x_seconds_sum", frozenset({("provider", "p")}))] == pytest.approx(3.65)


def test_counters_add_a_batch_and_unlabelled_ones_start_at_zero() -> None:
    plain = Counts("gateway_plain_total", "plain")
    labelled = Counts("gateway_by_rule_total", "by rule", ("verdict", "rule"))
    assert exposition(plain, labelled) == {("gateway_plain_total", frozenset()): 0.0}
    labelled.add({("allow", "none"): 3, ("defer", "window.sms"): 1})
    labelled.add({("allow", "none"): 2})
    got = exposition(labelled)
    key = frozenset({("verdict", "allow"), ("rule", "none")})
    assert got[("gateway_by_rule_total", key)] == 5


class FakeProvider:
    """A provider that answers with whatever it is given to raise (or a result)."""

    name: ClassVar[str] = "fake"
    channel: ClassVar[str] = "sms"

    def __init__(self, error: Exception | None = None):
        self.error = error

    async def send(self, message: Outgoing) -> SendResult:
        if self.error is not None:
            raise self.error
        return SendResult("ref-1")


@pytest.mark.parametrize(
    "error,outcome",
    [
        (None, "sent"),
        (TransientProviderError("503", retry_after=5), "transient"),
        (PermanentProviderError("unknown number", contact_status="invalid"), "rejected"),
        (PermanentProviderError("account suspended", provider_side=True), "provider_refused"),
        (DeliveryUnknown("timed out after sending"), "unknown"),
        (RuntimeError("provider bug"), "error"),
    ],
)
async def test_a_provider_call_is_counted_by_outcome_and_timed(
    error: Exception | None, outcome: str
) -> None:
    m = Metrics()
    message = Outgoing(message_id="m1", channel="sms", to="+14155550123", body="hi")
    if error is None:
        assert (await m.timed_send(FakeProvider(), message)).provider_ref == "ref-1"
    else:
        with pytest.raises(type(error)):
            await m.timed_send(FakeProvider(error), message)
    assert m.sends.values == {("sms", "fake", outcome): 1}
    assert m.latency.count(("sms", "fake")) == 1


def test_verdicts_are_tallied_by_verdict_and_rule() -> None:
    v = Verdicts(NOW)
    row = SimpleNamespace(id="m1", case_id=1, attempts=0)
    v.send(row, {"body": "x"})
    v.send(row, {"body": "y"})
    v.apply(row, Decision(Verdict.DEFER, rule="window.sms", reason="closed", until=NOW))
    v.apply(row, Decision(Verdict.SUPPRESS, rule="channel.opted_out", reason="opted out"))
    v.expire(row)  # not a policy verdict
    m = Metrics()
    m.decided(v)
    assert m.verdicts.values == {
        ("allow", "none"): 2,
        ("defer", "window.sms"): 1,
        ("suppress", "channel.opted_out"): 1,
    }
    assert nonzero(m.transitions.values) == {
        ("sending",): 2,
        ("deferred",): 1,
        ("suppressed",): 1,
        ("expired",): 1,
    }


def test_a_job_counts_claims_and_the_states_it_left_messages_in() -> None:
    m = Metrics()
    counts = {"claimed": 8, "deferred": 1, "sent": 5, "retry": 1, "failed": 0, "unknown": 1}
    m.dispatched("rg-dispatch", 10, counts, 0.2)
    assert m.claims.values == {("claimed",): 8, ("skipped",): 2}
    assert nonzero(m.transitions.values) == {("sent",): 5, ("retry_wait",): 1, ("unknown",): 1}
    assert m.jobs.values == {("rg-dispatch", "finished"): 1}


def test_each_role_exports_its_own_series() -> None:
    rt: Any = SimpleNamespace(metrics=Metrics())
    names = {
        role: {m.name for m in registry_for(rt, role).collect()} for role in ("worker", "scheduler")
    }
    assert "gateway_sends" in names["worker"] and "gateway_sends" not in names["scheduler"]
    assert "gateway_scheduler_leader" in names["scheduler"]
    assert "gateway_scheduler_leader" not in names["worker"]
    assert "gateway_queue_jobs" in names["worker"] & names["scheduler"]
    assert "process_resident_memory_bytes" in names["worker"]
    with pytest.raises(ValueError):
        registry_for(rt, "api")


def readme_metrics() -> dict[str, str]:
    """{metric name: type} from the README's Metrics table."""
    section = README.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([a-z_]+)` \| (counter|gauge|histogram) \|", section, re.M))


def test_the_readme_lists_every_gateway_metric_with_its_type() -> None:
    m = Metrics()
    defined = {s.name: type(s).__name__ for s in [*m.worker_series(), *m.scheduler_series()]}
    kinds = {"Counts": "counter", "Levels": "gauge", "Timings": "histogram"}
    expected = {name: kinds[kind] for name, kind in defined.items()}
    api = CollectorRegistry()
    ApiMetrics(api)
    for family in api.collect():
        suffix = "_total" if family.type == "counter" else ""
        expected[family.name + suffix] = family.type
    listed = readme_metrics()
    listed.pop("process_resident_memory_bytes")  # prometheus_client's own
    assert listed == expected


def test_metric_names_follow_the_conventions() -> None:
    m = Metrics()
    for s in [*m.worker_series(), *m.scheduler_series()]:
        assert s.name.startswith("gateway_"), s.name
        if isinstance(s, Counts):
            assert s.name.endswith("_total"), s.name
        if isinstance(s, Timings):
            assert s.name.endswith("_seconds"), s.name
        assert not {"phone", "email", "address", "case", "case_ref", "message_id"} & set(s.labels)


def test_every_readme_panel_is_valid_promql_over_listed_metrics() -> None:
    section = README.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    listed = set(readme_metrics())
    names = listed | {f"{n}_{s}" for n in listed for s in ("bucket", "sum", "count")}
    assert len(rows) == len(listed)
    for row in rows:
        panel = row.rstrip(" |").rsplit("| ", 1)[1]
        queries = re.findall(r"`([^`]+)`", panel)
        assert queries, f"no PromQL in {row}"
        for query in queries:
            promql_parser.parse(query)  # raises on a syntax error
            used = set(re.findall(r"\b(?:gateway|process)_[a-z_]+", query))
            assert used and used <= names, f"{query}: {sorted(used - names)}"


async def test_redis_down_drops_the_queue_levels_but_not_the_scrape() -> None:
    client = aredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    rt: Any = SimpleNamespace(aredis=client)
    try:
        assert await sample_queues(rt, [("rg-dispatch", "queued", "rq:queue:rg-dispatch")]) == {}
    finally:
        await client.aclose()
