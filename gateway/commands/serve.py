"""The long-running commands: api, worker, scheduler, receiver, catcher, and run (all of them,
supervised). A port that cannot be listened on is a `StartupError` naming the setting to change."""

from __future__ import annotations

import argparse
import asyncio
import errno
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from gateway import gc_tuning
from gateway.commands import fail
from gateway.preflight import StartupError
from gateway.settings import Settings

log = structlog.get_logger()
LISTEN_ERRORS = frozenset({errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL})


@contextmanager
def _listening(host: str, port: int, variable: str) -> Iterator[None]:
    """A port the process cannot listen on becomes a `StartupError` naming the setting."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in LISTEN_ERRORS:
            raise
        raise StartupError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            f"stop what uses that port, or set {variable} to another",
        ) from None


def _stop_on_signals() -> asyncio.Event:
    """An event SIGINT or SIGTERM sets, for the running loop to stop on."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from gateway.api.app import create_app

    app = create_app(settings)

    async def settled(_app: web.Application) -> None:
        gc_tuning.settle()  # after the runtime and templates are loaded

    app.on_startup.append(settled)
    with _listening(settings.host, settings.port, "GATEWAY_PORT (or --port)"):
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            reuse_port=args.reuse_port,
        )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.worker import run_worker

    run_worker(settings, burst=args.burst, queues=args.queue or None)
    return 0


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.bootstrap import open_runtime
    from gateway.exporter.server import MetricsUnavailable, start_endpoint
    from gateway.services.due_work import scheduler
    from gateway.services.webhook_delivery import Deliverer
    from scheduler.deliveries import run_deliveries

    async def main() -> None:
        rt = await open_runtime(settings)
        stop = _stop_on_signals()
        deliver = Deliverer(rt)
        try:
            endpoint = await start_endpoint(rt, "scheduler")
            gc_tuning.settle()
            log.info("scheduler_started")
            loop = scheduler(rt)
            try:
                await asyncio.gather(
                    loop.run(stop),
                    run_deliveries(
                        deliver,
                        lambda: loop.leader,
                        stop,
                        interval_s=settings.webhook_interval_s,
                    ),
                )
            finally:
                await deliver.close()
                if endpoint is not None:
                    await endpoint.stop()
        finally:
            await rt.close()

    try:
        asyncio.run(main())
    except MetricsUnavailable as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.runner import run_all
    from gateway.supervisor import RestartPolicy

    if args.workers < 1:
        return fail(f"--workers {args.workers} starts no worker; give 1 or more")
    if args.max_restarts < 0 or args.restart_window <= 0:
        return fail("--max-restarts or --restart-window is negative; give 0 or more seconds")
    policy = RestartPolicy(max_restarts=args.max_restarts, window_s=args.restart_window)
    return run_all(settings, workers=args.workers, policy=policy)


def cmd_receiver(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.receiver import run_receiver

    with _listening(settings.receiver_host, settings.receiver_port, "RECEIVER_PORT"):
        asyncio.run(run_receiver(settings))
    return 0


def cmd_catcher(args: argparse.Namespace, settings: Settings) -> int:
    from channels.email.catcher import serve

    async def main() -> None:
        with _listening(settings.catcher_host, settings.catcher_port, "CATCHER_PORT"):
            server = await serve(
                settings.data_dir / "mail", settings.catcher_host, settings.catcher_port
            )
        log.info("smtp_catcher_started", host=settings.catcher_host, port=settings.catcher_port)
        stop = _stop_on_signals()
        await stop.wait()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    return 0
