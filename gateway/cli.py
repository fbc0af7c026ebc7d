"""The `reminder-gateway` command: api, worker, scheduler, receiver, run, migrate, keys, demo,
catcher, lint-templates."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import structlog

from gateway import logs
from gateway.preflight import StartupError
from gateway.settings import Settings, SettingsError

log = structlog.get_logger()
LISTEN_ERRORS = frozenset({errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL})


EXIT_CONFIG = 2  # a setting, a key or the environment is wrong: restarting will not help


def fail(problem: object) -> int:
    """Print one line, as argparse does for a bad option, and return the exit status."""
    print(f"reminder-gateway: error: {problem}", file=sys.stderr, flush=True)
    return EXIT_CONFIG


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    port = getattr(args, "port", None)
    if port is not None:
        if not 1 <= port <= 65535:
            raise StartupError(f"--port {port} is not a port", "give one from 1 to 65535")
        overrides["port"] = port
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if args.command == "run" and "GATEWAY_ENV" not in os.environ:
        overrides["environment"] = "development"  # `run` is the laptop command
    return Settings.from_env(**overrides)


def _listen_error(exc: OSError, host: str, port: int, variable: str) -> StartupError:
    return StartupError(
        f"cannot listen on {host}:{port}: {exc.strerror or exc}",
        f"stop what uses that port, or set {variable} to another",
    )


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from gateway.api.app import create_app

    try:
        web.run_app(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            reuse_port=args.reuse_port,
        )
    except OSError as exc:
        if exc.errno not in LISTEN_ERRORS:
            raise
        raise _listen_error(exc, settings.host, settings.port, "GATEWAY_PORT (or --port)") from None
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.worker import run_worker

    run_worker(settings, burst=args.burst, queues=args.queue or None)
    return 0


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.bootstrap import open_runtime
    from gateway.exporter.server import MetricsUnavailable, start_endpoint
    from gateway.services.due_work import scheduler

    async def main() -> None:
        rt = await open_runtime(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            endpoint = await start_endpoint(rt, "scheduler")
            log.info("scheduler_started")
            try:
                await scheduler(rt).run(stop)
            finally:
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


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.setup import prepare

    installed = asyncio.run(prepare(settings))
    print(f"database at head; {installed} built-in template(s) installed")
    return 0


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.setup import create_key

    scopes = list(args.scope or [])
    if args.all_scopes:
        from gateway.store.keys import SCOPES

        scopes = list(SCOPES)
    if not scopes:
        return fail("no scope given; give at least one --scope (or --all-scopes)")
    try:
        key = asyncio.run(create_key(settings, scopes=scopes, name=args.name, tenant=args.tenant))
    except ValueError as exc:
        return fail(exc)
    print(key)
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


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.demo import run_demo

    return asyncio.run(run_demo(settings, url=args.url, key=args.key))


def cmd_lint_templates(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from gateway.services.lint import lint_pack
    from gateway.store.templates import load_pack
    from scheduler.presets import load_presets

    presets = load_presets(settings.presets_dir)
    if args.preset is not None and args.preset not in presets:
        return fail(f"unknown preset {args.preset!r}; use one of {', '.join(sorted(presets))}")
    chosen = [presets[args.preset]] if args.preset else list(presets.values())
    pack = load_pack()
    env = SimpleNamespace(settings=settings, presets=presets)
    findings = lint_pack(env, pack, chosen, datetime.now(UTC))
    for f in findings:
        print(f"{f.template} under {f.preset} ({'; '.join(f.cases)}): {f.message}")
    checked = f"{len(pack)} template(s) against {len(chosen)} preset(s)"
    if findings:
        print(f"{len(findings)} problem(s) in {checked}", file=sys.stderr)
        return 1
    print(f"{checked}: no problems")
    return 0


def cmd_receiver(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.receiver import run_receiver

    try:
        asyncio.run(run_receiver(settings))
    except OSError as exc:
        if exc.errno not in LISTEN_ERRORS:
            raise
        raise _listen_error(
            exc, settings.receiver_host, settings.receiver_port, "RECEIVER_PORT"
        ) from None
    return 0


def cmd_catcher(args: argparse.Namespace, settings: Settings) -> int:
    from channels.email.catcher import serve

    async def main() -> None:
        try:
            server = await serve(
                settings.data_dir / "mail", settings.catcher_host, settings.catcher_port
            )
        except OSError as exc:
            if exc.errno not in LISTEN_ERRORS:
                raise
            raise _listen_error(
                exc, settings.catcher_host, settings.catcher_port, "CATCHER_PORT"
            ) from None
        log.info("smtp_catcher_started", host=settings.catcher_host, port=settings.catcher_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reminder-gateway", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    api = sub.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.add_argument(
        "--reuse-port", action="store_true", help="let several api processes share the port"
    )
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="run a dispatch worker")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.add_argument(
        "--queue", action="append", help="queue name (default: dispatch and letters)"
    )
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("scheduler", help="run the due-work pump and the sweeper").set_defaults(
        func=cmd_scheduler
    )
    sub.add_parser(
        "migrate", help="migrate the database and install the template pack"
    ).set_defaults(func=cmd_migrate)

    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument(
        "--scope",
        action="append",
        help="reminders:write, cases:read, cases:write, templates:write or ops; repeat for several",
    )
    create.add_argument("--all-scopes", action="store_true")
    create.add_argument("--name", default="")
    create.add_argument("--tenant", default="default")
    create.set_defaults(func=cmd_keys)

    run = sub.add_parser("run", help="everything in one command, for a laptop")
    run.add_argument("--port", type=int)
    run.add_argument("--host")
    run.add_argument("--workers", type=int, default=1)
    run.add_argument(
        "--max-restarts",
        type=int,
        default=5,
        help="restarts of one process within --restart-window before the gateway stops (5)",
    )
    run.add_argument(
        "--restart-window", type=float, default=60.0, help="seconds (60); see --max-restarts"
    )
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="seed demo cases, send on every channel, print timelines")
    demo.add_argument("--url", default=None, help="gateway URL (default: GATEWAY_PUBLIC_URL)")
    demo.add_argument(
        "--key", default=None, help="API key (default: GATEWAY_DEV_API_KEY or a new one)"
    )
    demo.set_defaults(func=cmd_demo)

    lint = sub.add_parser(
        "lint-templates",
        help="check the built-in templates against the presets' content rules; exit 1 on problems",
    )
    lint.add_argument("--preset", help="one preset (default: every preset)")
    lint.set_defaults(func=cmd_lint_templates)

    sub.add_parser("receiver", help="run the SMTP receiver for bounces and replies").set_defaults(
        func=cmd_receiver
    )
    sub.add_parser("catcher", help="run the local SMTP catcher").set_defaults(func=cmd_catcher)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from gateway import preflight
    from scheduler.presets import PresetError, load_presets

    try:
        settings = _settings(args)
        logs.configure(settings.log_level, settings.log_json)
        try:
            load_presets(settings.presets_dir)
        except PresetError as exc:
            raise StartupError(
                f"PRESETS_DIR: {exc}", "fix the preset file, or unset PRESETS_DIR"
            ) from None
        preflight.check(settings, args.command)
        return int(args.func(args, settings) or 0)
    except (SettingsError, StartupError) as exc:
        return fail(exc)


if __name__ == "__main__":
    sys.exit(main())
