"""The Prometheus endpoint of a worker or scheduler process: `GET /metrics` on METRICS_PORT.

It runs on the process's own event loop, the one that writes the series, so a scrape needs no
lock and reads every series between two updates. Each process serves its own endpoint: compose
replicas each have their own address (same port), `reminder-gateway run` numbers the ports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.registry import Collector

from gateway.exporter.sampled import circuit_levels, queue_keys, sample_queues

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from gateway.metrics.series import Series
    from gateway.runtime import Runtime

log = structlog.get_logger()

ROLES = ("worker", "scheduler")


class MetricsUnavailable(RuntimeError):
    """The endpoint could not listen where METRICS_HOST / METRICS_PORT say."""


class SeriesCollector(Collector):
    """Hands the process's series to `prometheus_client` at scrape time."""

    def __init__(self, series: list[Series]):
        self.series = series

    def collect(self) -> Iterator[Metric]:
        for s in self.series:
            yield s.family()


def registry_for(rt: Runtime, role: str) -> CollectorRegistry:
    """The series a `role` process exposes, with the standard process_* ones (RSS, CPU, fds)."""
    if role not in ROLES:
        raise ValueError(f"no metrics for a {role!r} process")
    m = rt.metrics
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        SeriesCollector(m.worker_series() if role == "worker" else m.scheduler_series())
    )
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def metrics_app(rt: Runtime, role: str) -> web.Application:
    registry = registry_for(rt, role)
    keys = queue_keys(rt)

    async def scrape(request: web.Request) -> web.Response:
        rt.metrics.queue_jobs.replace(await sample_queues(rt, keys))
        rt.metrics.circuits.replace(circuit_levels(rt))
        response = web.Response(body=generate_latest(registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    return app


@dataclass
class Endpoint:
    runner: web.AppRunner
    url: str

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_endpoint(rt: Runtime, role: str) -> Endpoint | None:
    """Serve `role`'s metrics on METRICS_HOST:METRICS_PORT; None when METRICS_PORT is 0."""
    settings = rt.settings
    if not settings.metrics_port:
        return None
    # A scrape in flight must not hold up the process's shutdown.
    runner = web.AppRunner(metrics_app(rt, role), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    host, port = settings.metrics_host or settings.host, settings.metrics_port
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise MetricsUnavailable(
            f"METRICS_PORT: cannot serve metrics on {host}:{port} ({exc.strerror or exc})"
        ) from None
    url = f"http://{host}:{port}/metrics"
    log.info("metrics_serving", role=role, url=url)
    return Endpoint(runner, url)
