"""`reminder-gateway import`: rows per second of a cases file, then of a reminders file for those
cases, each run as the command an operator types (its start-up included), on a fresh database.

The figure is rows of both files over the seconds of both commands; each command's own figure
(which it prints) rides along.
"""

from __future__ import annotations

import csv
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import cases as bench_cases
from bench.gateway import Gateway, Run, _gateway_cli
from bench.procs import log

CASE_HEADER = [
    "case_ref", "preset", "debtor_name", "debtor_first_name", "locale", "timezone",
    "collector_role", "phone", "email", "address_line1", "address_line2", "postal_code",
    "country", "amount", "currency", "due_date", "days_past_due", "account_number",
]  # fmt: skip


def _case_row(run: Run, i: int) -> list[str]:
    body = bench_cases.case_body(run.profile, i)
    debtor, debt, address = body["debtor"], body["debt"], body["debtor"]["postal_address"]
    lines = [*address["lines"], ""][:2]
    return [
        f"IMPORT-{i:06d}", body["preset"], debtor["name"], debtor["first_name"], debtor["locale"],
        debtor["timezone"], body["collector_role"], body["contacts"][0]["address"],
        body["contacts"][1]["address"], *lines, address["postal_code"], address["country"],
        debt["amount"], debt["currency"], debt["due_date"], str(debt["days_past_due"]),
        debt["account_number"],
    ]  # fmt: skip


def _write(path: Path, header: list[str], rows: Any) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        out.writerows(rows)


def _import(gw: Gateway, kind: str, path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [*_gateway_cli(), "import", kind, str(path), "--no-progress"],
        env=gw.env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"import {kind} failed: {done.stderr.strip()[-2000:]}")
    return seconds, done.stdout.strip()


async def scenario(run: Run) -> dict[str, Any]:
    n = run.size(20_000, minimum=1000)
    gw = Gateway(run, "import", SMS_PROVIDERS="sandbox")
    await gw.prepare()
    cases_csv, reminders_csv = gw.data_dir / "cases.csv", gw.data_dir / "reminders.csv"
    _write(cases_csv, CASE_HEADER, (_case_row(run, i) for i in range(n)))
    _write(
        reminders_csv,
        ["case_ref", "template", "channel", "idempotency_key"],
        ([f"IMPORT-{i:06d}", "first_notice", "sms", f"import-{i}"] for i in range(n)),
    )
    log(f"import: {n} cases, then {n} reminders, from CSV files")
    cases_s, cases_out = _import(gw, "cases", cases_csv)
    reminders_s, reminders_out = _import(gw, "reminders", reminders_csv)
    log(f"import: {cases_out}\nimport: {reminders_out}")
    rerun_s, rerun_out = _import(gw, "reminders", reminders_csv)  # idempotent: nothing new
    log(f"import (re-run): {rerun_out}")
    return {
        "figure": "import_rows_per_s",
        "value": round(2 * n / (cases_s + reminders_s), 1),
        "unit": "rows/s",
        **gw.context(
            n=2 * n,
            cases_rows_per_s=round(n / cases_s, 1),
            reminders_rows_per_s=round(n / reminders_s, 1),
            rerun_rows_per_s=round(n / rerun_s, 1),
            seconds=round(cases_s + reminders_s, 3),
            processes=os.cpu_count(),
        ),
    }
