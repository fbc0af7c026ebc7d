"""The `reminder-gateway` command: api, worker, scheduler, receiver, run, migrate, keys, demo,
catcher, lint-templates, import, export, verify-timeline."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from gateway import logs
from gateway.commands import admin, evidence, fail, imports, serve
from gateway.preflight import StartupError
from gateway.settings import Settings, SettingsError


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reminder-gateway", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    api = sub.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.add_argument(
        "--reuse-port", action="store_true", help="let several api processes share the port"
    )
    api.set_defaults(func=serve.cmd_api)

    worker = sub.add_parser("worker", help="run a dispatch worker")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.add_argument(
        "--queue", action="append", help="queue name (default: dispatch and letters)"
    )
    worker.set_defaults(func=serve.cmd_worker)

    sub.add_parser("scheduler", help="run the due-work pump and the sweeper").set_defaults(
        func=serve.cmd_scheduler
    )
    sub.add_parser(
        "migrate", help="migrate the database and install the template pack"
    ).set_defaults(func=admin.cmd_migrate)

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
    create.set_defaults(func=admin.cmd_keys)

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
    run.set_defaults(func=serve.cmd_run)

    demo = sub.add_parser("demo", help="seed demo cases, send on every channel, print timelines")
    demo.add_argument("--url", default=None, help="gateway URL (default: GATEWAY_PUBLIC_URL)")
    demo.add_argument(
        "--key", default=None, help="API key (default: GATEWAY_DEV_API_KEY or a new one)"
    )
    demo.set_defaults(func=admin.cmd_demo)

    lint = sub.add_parser(
        "lint-templates",
        help="check the built-in templates against the presets' content rules; exit 1 on problems",
    )
    lint.add_argument("--preset", help="one preset (default: every preset)")
    lint.set_defaults(func=admin.cmd_lint_templates)

    imports.add_parser(sub)

    sub.add_parser("receiver", help="run the SMTP receiver for bounces and replies").set_defaults(
        func=serve.cmd_receiver
    )
    sub.add_parser("catcher", help="run the local SMTP catcher").set_defaults(
        func=serve.cmd_catcher
    )
    evidence.add_parsers(sub)
    return p


def _check_cadences(settings: Settings) -> None:
    """Every cadence (built-in and CADENCES_DIR) is valid and names templates the pack has."""
    from gateway.store.templates import pack_purposes
    from scheduler.cadence import CadenceError, load_cadences

    try:
        load_cadences(settings.cadences_dir, templates=pack_purposes())
    except CadenceError as exc:
        where = "CADENCES_DIR" if settings.cadences_dir else "built-in cadence"
        raise StartupError(
            f"{where}: {exc}", "fix the cadence file, or unset CADENCES_DIR"
        ) from None


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
        _check_cadences(settings)
        preflight.check(settings, args.command)
        return int(args.func(args, settings) or 0)
    except (SettingsError, StartupError) as exc:
        return fail(exc)


if __name__ == "__main__":
    sys.exit(main())
