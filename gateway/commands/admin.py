"""The one-shot commands: migrate, keys create, demo, lint-templates."""

from __future__ import annotations

import argparse
import asyncio
import sys

from gateway.commands import fail
from gateway.settings import Settings


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
