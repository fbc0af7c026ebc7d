"""`reminder-gateway import cases|reminders FILE.csv`: a CSV file into the gateway, with a
progress bar, a report of every wrong row written beside the file, and all-or-nothing unless
`--skip-invalid` (gateway.services.imports)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gateway.commands import fail
from gateway.services.import_rows import Problem, header_problems
from gateway.settings import Settings

# The tenant's key the reminders of an import are accepted under: idempotency keys are unique
# per API key, so every import of a tenant shares one (it has no secret anyone knows).
IMPORT_KEY = "import"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("import", help="import cases or reminders from a CSV file")
    p.add_argument("kind", choices=["cases", "reminders"])
    p.add_argument("file", type=Path)
    p.add_argument("--tenant", default="default")
    p.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid rows and report the others (default: a wrong row imports nothing)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)


def _rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str | None]]], int]:
    """The header, the rows with their line numbers, and how many rows there are."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        total = max(sum(1 for _ in csv.reader(f)) - 1, 0)
    handle = path.open(encoding="utf-8-sig", newline="")
    reader = csv.DictReader(handle)
    header = list(reader.fieldnames or [])

    def rows() -> Iterator[tuple[int, dict[str, str | None]]]:
        with handle:
            for row in reader:
                # A row with more cells than the header puts the rest under None.
                yield reader.line_num, dict(row)

    return header, rows(), total


def error_report_path(path: Path) -> Path:
    return path.with_name(path.name + ".errors.csv")


def _write_errors(path: Path, problems: list[Problem]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["line", "column", "code", "message"])
        for p in sorted(problems, key=lambda p: (p.row, p.column)):
            out.writerow([p.row, p.column, p.code, p.message])


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file
    if not path.is_file():
        return fail(f"{path}: no such file")
    try:
        header, rows, total = _rows(path)
    except (UnicodeDecodeError, csv.Error) as exc:
        return fail(f"{path}: not a UTF-8 CSV file ({exc})")
    errors = error_report_path(path)
    problems = header_problems(header, args.kind)
    if problems:
        _write_errors(errors, problems)
        for p in problems:
            print(f"{path}: {p.message}", file=sys.stderr)
        return 2
    started = time.monotonic()
    report = asyncio.run(_import(settings, args, rows, total))
    seconds = time.monotonic() - started
    if report.problems:
        _write_errors(errors, report.problems)
    elif errors.exists():
        errors.unlink()  # from an earlier run: this one found nothing wrong
    rate = report.rows / seconds if seconds > 0 else 0.0
    verb = "created or changed" if args.kind == "cases" else "accepted"
    print(
        f"{path}: {report.rows} rows in {seconds:.1f} s ({rate:,.0f} rows/s): "
        f"{report.written} {verb}, {report.unchanged} already there, "
        f"{report.invalid_rows} wrong"
    )
    if report.problems and not report.committed:
        print(
            f"nothing was imported: {report.invalid_rows} row(s) are wrong, see {errors} "
            "(fix them and run again, or give --skip-invalid to import the others)",
            file=sys.stderr,
        )
        return 1
    if report.problems:
        print(f"{report.invalid_rows} row(s) skipped, see {errors}", file=sys.stderr)
    return 0


async def _import(settings: Settings, args: argparse.Namespace, rows: Any, total: int) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from gateway.bootstrap import open_runtime
    from gateway.services import imports
    from gateway.store import keys as key_store

    rt = await open_runtime(settings)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=args.no_progress or not sys.stderr.isatty(),
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task(f"importing {args.kind}", total=total)

            def advance(n: int) -> None:
                progress.advance(task, n)

            if args.kind == "cases":
                return await imports.import_cases(
                    rt,
                    tenant=args.tenant,
                    actor=f"import:{args.file.name}",
                    rows=rows,
                    skip_invalid=args.skip_invalid,
                    progress=advance,
                )
            async with rt.engine.begin() as conn:
                key = await key_store.for_import(conn, args.tenant, IMPORT_KEY, rt.clock())
            return await imports.import_reminders(
                rt, key=key, rows=rows, skip_invalid=args.skip_invalid, progress=advance
            )
    finally:
        await rt.close()
