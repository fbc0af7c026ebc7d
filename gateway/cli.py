"""The `reminder-gateway` command: api, worker, scheduler, receiver, run, migrate, keys, demo,
catcher, lint-templates."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

import structlog

from gateway import logs
from gateway.settings import Settings, SettingsError

log = structlog.get_logger()


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "port", None):
        overrides["port"] = args.port
    if getattr(args, "host", None):
        overrides["host"] = args.host
    return Settings.from_env(**overrides)


def cmd_api(args: argparse.Namespace) -> int:
    from aiohttp import web

    from gateway.api.app import create_app

    settings = _settings(args)
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        reuse_port=args.reuse_port,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.worker import run_worker

    run_worker(_settings(args), burst=args.burst, queues=args.queue or None)
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from gateway.bootstrap import open_runtime
    from gateway.exporter.server import MetricsUnavailable, start_endpoint
    from gateway.services.due_work import scheduler

    settings = _settings(args)

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


def cmd_migrate(args: argparse.Namespace) -> int:
    from gateway.setup import prepare

    settings = _settings(args)
    installed = asyncio.run(prepare(settings))
    print(f"database at head; {installed} built-in template(s) installed")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from gateway.setup import create_key

    settings = _settings(args)
    scopes = list(args.scope or [])
    if args.all_scopes:
        from gateway.store.keys import SCOPES

        scopes = list(SCOPES)
    if not scopes:
        print("give at least one --scope (or --all-scopes)", file=sys.stderr)
        return 2
    try:
        key = asyncio.run(create_key(settings, scopes=scopes, name=args.name, tenant=args.tenant))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(key)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.runner import run_all

    return run_all(_settings(args), workers=args.workers)


def cmd_demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    return asyncio.run(run_demo(_settings(args), url=args.url, key=args.key))


def cmd_lint_templates(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from gateway.services.lint import lint_pack
    from gateway.store.templates import load_pack
    from scheduler.presets import load_presets

    settings = _settings(args)
    presets = load_presets(settings.presets_dir)
    if args.preset is not None and args.preset not in presets:
        print(
            f"unknown preset {args.preset!r}; known: {', '.join(sorted(presets))}", file=sys.stderr
        )
        return 2
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


def cmd_receiver(args: argparse.Namespace) -> int:
    from gateway.receiver import run_receiver

    asyncio.run(run_receiver(_settings(args)))
    return 0


def cmd_catcher(args: argparse.Namespace) -> int:
    from channels.email.catcher import serve

    settings = _settings(args)

    async def main() -> None:
        server = await serve(
            settings.data_dir / "mail", settings.catcher_host, settings.catcher_port
        )
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
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_json)
    from scheduler.presets import PresetError, load_presets

    try:
        load_presets(settings.presets_dir)
    except PresetError as exc:
        print(f"preset error: {exc}", file=sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
