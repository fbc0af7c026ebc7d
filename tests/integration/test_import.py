"""`reminder-gateway import cases|reminders FILE.csv`, run as the command it is, on SQLite and
PostgreSQL: what it stores is what the API stores, a wrong row imports nothing (unless
--skip-invalid) and is reported beside the file, a re-run changes and sends nothing twice."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from tests.support import ApiClient, settings_env

pytestmark = pytest.mark.slow

CASES = [
    "case_ref,preset,debtor_name,locale,phone,email,address_line1,city,region,postal_code,"
    "country,amount,currency,due_date,days_past_due,account_number,collector_role",
    "IMP-1,TEST-OPEN,Jane Doe,en,+14155550123;+14155550124,jane@example.com,350 5th Ave,"
    "New York,,10118,US,420.50,USD,2026-10-01,52,4111 1111 1111 1234,third_party",
    "IMP-2,TEST-OPEN,李雷,zh-CN,+8613800138000,,,,,,,1200,CNY,2026-09-15,80,6222020200001234,",
    "IMP-3,TEST-OPEN,John Roe,en,,john@example.com,,,,,,99.99,USD,2026-11-01,21,0000000000005678,",
]


async def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateway.cli", "import", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def errors_of(path: Path) -> list[dict[str, str]]:
    with path.with_name(path.name + ".errors.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def timeline_kinds(api: ApiClient, case_ref: str) -> list[str]:
    resp = await api.get(f"/v1/cases/{case_ref}/timeline")
    assert resp.status == 200, resp.body
    return [e["kind"] for e in resp.body["entries"]]


async def test_a_cases_file_is_stored_as_the_api_would_and_a_rerun_changes_nothing(
    api: ApiClient, settings: Settings, tmp_path: Path
) -> None:
    path = write(tmp_path / "cases.csv", CASES)
    done = await run(settings, "cases", str(path))
    assert done.returncode == 0, done.stderr
    assert "3 rows" in done.stdout and "3 created or changed, 0 already there, 0 wrong" in (
        done.stdout
    )
    jane = (await api.get("/v1/cases/IMP-1")).body
    assert jane["collector_role"] == "third_party"
    assert jane["debt"] == {
        "amount": "420.50",
        "currency": "USD",
        "due_date": "2026-10-01",
        "days_past_due": 52,
        "account": "1234",
        "sol_expired": False,
    }
    assert jane["debtor"]["postal_address"] == {
        "lines": ["350 5th Ave"],
        "city": "New York",
        "postal_code": "10118",
        "country": "US",
    }
    assert {(c["channel"], c["address"]) for c in jane["contacts"]} == {
        ("sms", "+14155550123"),
        ("sms", "+14155550124"),
        ("email", "jane@example.com"),
        ("letter", jane["contacts"][-1]["address"]),
    }
    li = (await api.get("/v1/cases/IMP-2")).body
    assert li["debtor"]["name"] == "李雷" and li["debtor"]["locale"] == "zh-CN"
    assert li["collector_role"] == "first_party"
    timeline = await api.get("/v1/cases/IMP-3/timeline")
    (created,) = timeline.body["entries"]
    assert created["kind"] == "case_created" and created["actor"] == "import:cases.csv"

    again = await run(settings, "cases", str(path))
    assert again.returncode == 0, again.stderr
    assert "0 created or changed, 3 already there" in again.stdout
    assert await timeline_kinds(api, "IMP-1") == ["case_created"]

    # A changed row is an update, with what changed on the timeline.
    changed = [*CASES[:3], CASES[3].replace("99.99", "120.00")]
    (await asyncio.to_thread(write, path, changed))
    third = await run(settings, "cases", str(path))
    assert "1 created or changed, 2 already there" in third.stdout, third.stdout
    assert (await api.get("/v1/cases/IMP-3")).body["debt"]["amount"] == "120.00"
    assert await timeline_kinds(api, "IMP-3") == ["case_created", "case_updated"]


async def test_a_wrong_row_imports_nothing_unless_skipped_and_is_reported_beside_the_file(
    api: ApiClient, settings: Settings, tmp_path: Path
) -> None:
    rows = [
        *CASES[:2],
        "IMP-9,NO-SUCH,Bad Row,en,+1415,,,,,,,abc,USD,2026-10-01,52,4111111111111234,",
        CASES[3],
        CASES[3],  # the same case twice
    ]
    path = write(tmp_path / "mixed.csv", rows)
    refused = await run(settings, "cases", str(path))
    assert refused.returncode == 1
    assert "nothing was imported: 2 row(s) are wrong" in refused.stderr
    problems = {(int(e["line"]), e["column"], e["code"]) for e in errors_of(path)}
    assert (3, "preset", "unknown_preset") in problems
    assert (3, "phone", "value_error") in problems
    assert (3, "amount", "value_error") in problems
    assert (5, "case_ref", "repeated") in problems
    for ref in ("IMP-1", "IMP-3"):
        assert (await api.get(f"/v1/cases/{ref}")).status == 404  # nothing half-imported

    skipped = await run(settings, "cases", str(path), "--skip-invalid")
    assert skipped.returncode == 0, skipped.stderr
    assert "2 created or changed" in skipped.stdout and "2 wrong" in skipped.stdout
    assert "2 row(s) skipped" in skipped.stderr
    assert (await api.get("/v1/cases/IMP-3")).status == 200
    assert (await api.get("/v1/cases/IMP-9")).status == 404

    fixed = write(path, CASES)
    clean = await run(settings, "cases", str(fixed))
    assert clean.returncode == 0, clean.stderr
    assert not fixed.with_name("mixed.csv.errors.csv").exists()  # the old report goes


def test_a_header_that_is_wrong_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    """No database is opened for it: once, on the default one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "DATABASE_"))}
    env["GATEWAY_DATA_DIR"] = str(tmp_path / "var")
    for header, expected in (
        (
            "case_ref,preset,debtor_name,amount,currency,due_date,days_past_due,account_no",
            "required column 'account_number' is missing",
        ),
        (CASES[0] + ",shoe_size", "unknown column 'shoe_size'"),
        (CASES[0] + ",phone", "column 'phone' appears twice"),
    ):
        path = write(tmp_path / "cases.csv", [header])
        refused = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "import", "cases", str(path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 2, refused.stderr
        assert expected in refused.stderr
        assert "Traceback" not in refused.stderr
        assert any(expected in e["message"] for e in errors_of(path))


async def test_reminders_are_accepted_through_intake_and_a_rerun_sends_nothing_twice(
    api: ApiClient, settings: Settings, tmp_path: Path
) -> None:
    assert (await run(settings, "cases", str(write(tmp_path / "c.csv", CASES)))).returncode == 0
    reminders = [
        "case_ref,template,channel,idempotency_key,to,data.note",
        "IMP-1,first_notice,sms,imp-1-sms,+14155550124,hello",
        "IMP-3,first_notice,email,imp-3-email,,",
    ]
    path = write(tmp_path / "reminders.csv", reminders)
    done = await run(settings, "reminders", str(path))
    assert done.returncode == 0, done.stderr
    assert "2 accepted, 0 already there, 0 wrong" in done.stdout
    assert "accepted" in await timeline_kinds(api, "IMP-1")
    again = await run(settings, "reminders", str(path))
    assert "0 accepted, 2 already there" in again.stdout, again.stdout
    assert (await timeline_kinds(api, "IMP-1")).count("accepted") == 1

    wrong = write(
        tmp_path / "wrong.csv",
        [*reminders[:1], "IMP-1,first_notice,sms,imp-1-b,,", "NOPE,first_notice,sms,nope-1,,"],
    )
    refused = await run(settings, "reminders", str(wrong))
    assert refused.returncode == 1
    assert [(e["line"], e["column"], e["code"]) for e in errors_of(wrong)] == [
        ("3", "case_ref", "unknown_case")
    ]
    kinds: Any = await timeline_kinds(api, "IMP-1")
    assert kinds.count("accepted") == 1  # the valid row of the refused file was not kept
