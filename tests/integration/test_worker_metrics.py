"""A real worker process serves Prometheus metrics on METRICS_PORT: what it sent through which
provider and how fast, what the policy decided by rule, rate-limit waits and refusals, the state
changes it made, and the depth of every gateway queue, read over HTTP as Prometheus would."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.settings import Settings
from tests.conftest import TEST_PRESETS
from tests.support import ApiClient, case_body, free_port, reminder, start_worker, wait_for

pytestmark = pytest.mark.slow

THIRD_PARTY = "+14155550199"
ALL_DAYS = "[mon, tue, wed, thu, fri, sat, sun]"


def closed_preset() -> str:
    """A preset whose SMS window is half an hour starting six hours from now, in UTC."""
    hour = (datetime.now(UTC) + timedelta(hours=6)).hour
    window = f'{{days: {ALL_DAYS}, start: "{hour:02d}:00", end: "{hour:02d}:30", tag: P}}'
    return (
        "name: METRICS-CLOSED\nbase: US-RegF\n"
        f"windows:\n  sms:\n    - {window}\n  email:\n    - {window}\n"
        "safety_margin_min: {value: 0, tag: P}\n"
        "holidays:\n  mode: {value: allow, tag: P}\n"
        "tz:\n  mode: {value: consumer_stated_overrides, tag: P}\n"
    )


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    presets = tmp_path / "presets"
    shutil.copytree(TEST_PRESETS, presets)
    (presets / "metrics-closed.yaml").write_text(closed_preset())
    return settings.with_(
        presets_dir=presets,
        # The sandbox's second SMS waits a quarter of a second for its token; the second email's
        # token is a minute away, longer than a worker waits, so it is refused and deferred.
        rate_limits="sandbox=4/s:1,smtp=1/m:1",
        metrics_port=free_port(),
    )


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by (sample name, labels)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scraped: dict[Any, float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def stop(process: Any) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


@pytest.fixture
async def worker(settings: Settings, api: ApiClient) -> AsyncIterator[Any]:
    """A worker serving only the dispatch queue, so letter jobs stay queued to be counted."""
    process = start_worker(settings, args=["--queue", f"{settings.queue_prefix}-dispatch"])
    yield process
    # Off the loop: the API on this loop must still take the receipts the worker hands over
    # while it shuts down.
    await asyncio.to_thread(stop, process)


async def test_worker_exports_sends_latency_verdicts_rate_limits_and_queue_depth(
    api: ApiClient, runtime: Any, smtp_server: Path, settings: Settings, worker: Any
) -> None:
    open_case = case_body()
    open_case["contacts"].append({"channel": "sms", "address": THIRD_PARTY, "role": "third_party"})
    await api.put("/v1/cases/MET-1", open_case)
    closed = case_body(preset="METRICS-CLOSED", phone="+14155550124", email=None, postal=False)
    closed["debtor"]["timezone"] = "Etc/UTC"
    await api.put("/v1/cases/MET-2", closed)
    items = [
        reminder("MET-1", "sms", key="sms-1"),
        reminder("MET-1", "sms", key="sms-2"),
        reminder("MET-1", "email", key="email-1"),
        reminder("MET-1", "email", key="email-2"),
        reminder("MET-1", "sms", key="third-party", to=THIRD_PARTY),
        reminder("MET-2", "sms", key="closed"),
    ]
    accepted = await api.post("/v1/reminders/batch", {"items": items})
    assert accepted.body["accepted"] == len(items)
    for n in range(2):  # one job each, on the queue this worker does not serve
        await api.post("/v1/reminders", reminder("MET-1", "letter", key=f"letter-{n}"))

    url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
    dispatch_q, letters_q = runtime.keys.dispatch_queue, runtime.keys.letters_queue

    async with aiohttp.ClientSession() as session:

        async def scrape() -> dict[Any, float]:
            try:
                async with session.get(url) as resp:
                    assert resp.status == 200
                    assert resp.content_type == "text/plain"
                    return samples(await resp.text())
            except aiohttp.ClientConnectionError:
                return {}  # not listening yet

        async def job_done() -> dict[Any, float]:
            scraped = await scrape()
            done = value(scraped, "gateway_jobs_total", queue=dispatch_q, status="finished")
            return scraped if done == 1 else {}

        # The job's own count is the last thing it records: everything else is in by then.
        got = await wait_for(job_done, timeout=60, interval=0.2)
        async with session.get(url) as resp:
            text = await resp.text()

    assert value(got, "gateway_sends_total", channel="sms", provider="sandbox", outcome="sent") == 2
    assert value(got, "gateway_sends_total", channel="email", provider="smtp", outcome="sent") == 1
    sends = {k: v for k, v in got.items() if k[0] == "gateway_sends_total"}
    assert sum(sends.values()) == 3, sends

    latency = "gateway_provider_latency_seconds"
    assert value(got, f"{latency}_count", channel="sms", provider="sandbox") == 2
    assert value(got, f"{latency}_count", channel="email", provider="smtp") == 1
    assert value(got, f"{latency}_sum", channel="email", provider="smtp") > 0
    assert value(got, f"{latency}_bucket", channel="sms", provider="sandbox", le="+Inf") == 2

    verdicts = "gateway_policy_verdicts_total"
    assert value(got, verdicts, verdict="allow", rule="none") == 4
    assert value(got, verdicts, verdict="defer", rule="window.sms") == 1
    assert value(got, verdicts, verdict="suppress", rule="thirdparty.deny") == 1
    assert sum(v for k, v in got.items() if k[0] == verdicts) == 6

    wait = "gateway_rate_limit_wait_seconds"
    assert value(got, f"{wait}_count", provider="sandbox") == 2
    assert value(got, f"{wait}_bucket", provider="sandbox", le="0.0") >= 1  # the first: at once
    assert value(got, f"{wait}_sum", provider="sandbox") > 0  # the second waited its turn
    assert value(got, f"{wait}_count", provider="smtp") == 1
    assert value(got, "gateway_rate_limit_denied_total", provider="smtp") == 1
    assert value(got, "gateway_rate_limit_denied_total", provider="sandbox") == 0

    assert value(got, "gateway_claims_total", result="claimed") == 6
    transitions = {
        to: value(got, "gateway_message_transitions_total", to=to)
        for to in ("sending", "sent", "retry_wait", "deferred", "suppressed", "failed")
    }
    assert transitions == {
        "sending": 4,
        "sent": 3,
        "retry_wait": 1,
        "deferred": 1,
        "suppressed": 1,
        "failed": 0,
    }
    assert value(got, "gateway_job_duration_seconds_count", queue=dispatch_q) == 1

    assert value(got, "gateway_queue_jobs", queue=letters_q, state="queued") == 2
    assert ("gateway_queue_jobs", frozenset({("queue", dispatch_q), ("state", "queued")})) in got
    assert value(got, "gateway_queue_jobs", queue=dispatch_q, state="queued") == 0
    assert value(got, "gateway_circuit_open", provider="sandbox") == 0
    assert value(got, "process_resident_memory_bytes") > 0

    # A worker exports no scheduler series, and no label carries personal data or an id.
    assert "gateway_scheduler_leader" not in text
    for secret in ("4155550123", "4155550124", "4155550199", "jane@example.com", "MET-1", "MET-2"):
        assert secret not in text, f"{secret!r} appears in the metrics"
    for result in accepted.body["results"]:
        assert result["id"] not in text


async def test_a_worker_whose_metrics_port_is_taken_stops_with_a_clear_error(
    settings: Settings,
) -> None:
    with socket.socket() as taken:
        # As a server binds it (free_port() leaves the port in TIME_WAIT for us).
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", settings.metrics_port))
        taken.listen()
        process = start_worker(settings)
        code = await asyncio.to_thread(process.wait, 60)
    assert code == 2
    log = process.log_path.read_text()
    assert (
        f"configuration error: METRICS_PORT: cannot serve metrics on 127.0.0.1:{settings.metrics_port}"
        in log
    )
