"""The evidence commands: `export` (JSON Lines of a case, or of a tenant since a date) and
`verify-timeline` (the hash chains of the case timelines)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime
from typing import BinaryIO

from gateway.commands import fail
from gateway.settings import Settings

EXIT_FOUND = 1  # the command ran and found something wrong (a broken chain, no such case)


def since_of(text: str) -> datetime:
    """A date (midnight UTC) or an RFC 3339 time; a time without an offset is UTC."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (2026-12-01) or a time (2026-12-01T09:00:00+00:00)"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


async def _export(settings: Settings, args: argparse.Namespace, out: BinaryIO) -> int:
    from gateway.services import evidence
    from gateway.store.engine import create_engine
    from gateway.store.evidence import Scope

    engine = create_engine(settings)
    try:
        if args.case is not None:
            case_id = await evidence.find_case(engine, args.tenant, args.case)
            if case_id is None:
                print(
                    f"reminder-gateway: no case {args.case!r} in tenant {args.tenant!r}",
                    file=sys.stderr,
                )
                return EXIT_FOUND
            scope = Scope(args.tenant, case_id=case_id)
        else:
            scope = Scope(args.tenant, since=args.since)
        lines = 0
        async for line in evidence.export(engine, scope, lambda: datetime.now(UTC)):
            out.write(line)
            lines += 1
        out.flush()
        print(f"{lines} record(s) exported", file=sys.stderr)
        return 0
    finally:
        await engine.dispose()


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    if args.out is None:
        return asyncio.run(_export(settings, args, sys.stdout.buffer))
    try:
        with open(args.out, "wb") as out:
            return asyncio.run(_export(settings, args, out))
    except OSError as exc:
        return fail(f"--out {args.out}: {exc.strerror}")


async def _verify(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.services.chain import verify
    from gateway.store.engine import create_engine

    engine = create_engine(settings)
    try:
        report = await verify(engine, tenant=args.tenant, case_ref=args.case)
    finally:
        await engine.dispose()
    if args.case is not None and report.cases == 0:
        print(f"reminder-gateway: no case {args.case!r}", file=sys.stderr)
        return EXIT_FOUND
    for problem in report.problems:
        print(problem)
    if report.unsealed:
        print(f"{report.unsealed} entr(ies) written meanwhile, not sealed yet: not checked")
    if not report.ok:
        print(f"{len(report.problems)} problem(s) in {report.cases} case(s)", file=sys.stderr)
        return EXIT_FOUND
    print(f"{report.sealed} timeline entries of {report.cases} case(s) verify")
    return 0


def cmd_verify_timeline(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_verify(settings, args))


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    export = sub.add_parser(
        "export", help="evidence export as JSON Lines: one case, or every case since a date"
    )
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--case", help="the case's case_ref")
    which.add_argument(
        "--since", type=since_of, help="every record from this date or time on (UTC if no offset)"
    )
    export.add_argument("--tenant", default="default", help="the cases' tenant (default)")
    export.add_argument("--out", help="write to this file (default: standard output)")
    export.set_defaults(func=cmd_export)

    verify = sub.add_parser(
        "verify-timeline",
        help="check the case timelines' hash chains; exit 1 naming any edited, removed or "
        "reordered entry",
    )
    verify.add_argument("--case", help="only this case_ref")
    verify.add_argument("--tenant", help="only this tenant's cases (default: every tenant)")
    verify.set_defaults(func=cmd_verify_timeline)
