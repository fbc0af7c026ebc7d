"""The scheduler's Prometheus endpoint: leadership, pumped messages, swept claims, tick timing and
the queue depth, scraped over HTTP from the endpoint `reminder-gateway scheduler` serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.exporter.server import Endpoint, MetricsUnavailable, start_endpoint
from gateway.services.due_work import scheduler as make_scheduler
from gateway.settings import Settings
from gateway.store import messages as message_store
from tests.support import ApiClient, Clock, case_body, free_port, reminder


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(metrics_port=free_port())


@pytest.fixture
async def endpoint(runtime: Any) -> AsyncIterator[Endpoint]:
    served = await start_endpoint(runtime, "scheduler")
    assert served is not None
    yield served
    await served.stop()


async def scrape(endpoint: Endpoint) -> tuple[str, dict[tuple[str, frozenset[Any]], float]]:
    async with aiohttp.ClientSession() as session, session.get(endpoint.url) as resp:
        assert resp.status == 200
        text = await resp.text()
    values = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, values


async def test_scheduler_exports_leadership_pumping_sweeping_and_queue_depth(
    api: ApiClient, runtime: Any, clock: Clock, endpoint: Endpoint
) -> None:
    _, before = await scrape(endpoint)
    assert before[("gateway_scheduler_leader", frozenset())] == 0
    assert before[("gateway_pumped_messages_total", frozenset())] == 0

    await api.put("/v1/cases/SCH-1", case_body())
    later = (clock() + timedelta(hours=1)).isoformat()
    accepted = await api.post("/v1/reminders", reminder("SCH-1", "sms", not_before=later))
    clock.set(clock() + timedelta(hours=2))
    scheduler = make_scheduler(runtime)
    await scheduler.tick()  # leader now; pumps the message that became due

    # A worker claims it and vanishes: once the lease is over, the sweeper puts it back.
    async with runtime.engine.begin() as conn:
        claimed = await message_store.claim(
            conn, [accepted.body["id"]], now=clock(), lease_s=1, token="vanished"
        )
    assert claimed == [accepted.body["id"]]
    clock.set(clock() + timedelta(minutes=1))
    await scheduler.tick()

    text, got = await scrape(endpoint)
    assert got[("gateway_scheduler_leader", frozenset())] == 1
    assert got[("gateway_pumped_messages_total", frozenset())] == 2  # pumped, swept, pumped again
    assert got[("gateway_swept_claims_total", frozenset({("to", "retry_wait")}))] == 1
    assert got[("gateway_scheduler_tick_seconds_count", frozenset())] == 2
    assert got[("gateway_scheduler_tick_errors_total", frozenset())] == 0
    dispatch_queued = frozenset({("queue", runtime.keys.dispatch_queue), ("state", "queued")})
    assert got[("gateway_queue_jobs", dispatch_queued)] == 2  # two jobs, nobody working them
    assert "gateway_sends_total" not in text  # worker series stay in workers


async def test_a_port_in_use_is_a_clear_error(runtime: Any, endpoint: Endpoint) -> None:
    with pytest.raises(MetricsUnavailable, match="METRICS_PORT"):
        await start_endpoint(runtime, "worker")  # the same port, already served


async def test_no_port_no_endpoint(runtime: Any) -> None:
    runtime.settings = runtime.settings.with_(metrics_port=0)
    assert await start_endpoint(runtime, "worker") is None
