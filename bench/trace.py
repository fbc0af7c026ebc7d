"""Opt-in phase timing of gateway processes (BENCH_TRACE=1), added from the outside.

`python -m bench.trace api|worker ...` wraps a few functions of the gateway with timers, then runs
the ordinary `gateway.cli` command. At exit it prints one line `BENCH_TRACE {json}` with, per
phase, how often it ran and its total and mean wall time. Nothing in the gateway is changed; the
wrappers cost a few microseconds a call. Per-message phases (render, provider send) overlap in time
when sends run concurrently, so compare their means, not their totals, with the batch phases.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import json
import re
import sys
import time
from collections import defaultdict
from typing import Any

PHASES: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
# Statement shape ("UPDATE messages") → [executions, parameter sets]: how many round trips and
# row writes a process asked of its database, independent of how loaded the machine was.
STATEMENTS: dict[str, list[int]] = defaultdict(lambda: [0, 0])
_SHAPE = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|COPY)\b\s*(\w+)?", re.I)


def _record(label: str, started: float) -> None:
    slot = PHASES[label]
    slot[0] += 1
    slot[1] += time.perf_counter() - started


def timed(owner: Any, name: str, label: str) -> None:
    original = getattr(owner, name, None)
    if original is None:
        # The gateway moved on; time what still exists rather than fail the run.
        print(f"bench.trace: {getattr(owner, '__name__', owner)}.{name} not found", file=sys.stderr)
        return
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                _record(label, started)
    else:

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                _record(label, started)

    setattr(owner, name, wrapper)


def _count_statement(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
) -> None:
    found = _SHAPE.match(statement)
    if found is None:
        shape = statement.split(None, 1)[0].upper() if statement.strip() else "?"
    else:
        verb, table = found.groups()
        # A SELECT's first word after the verb is a column, not a table: name it by its FROM.
        if verb.upper() == "SELECT":
            source = re.search(r"\bFROM\s+(\w+)", statement, re.I)
            table = source.group(1) if source else (table or "")
        shape = f"{verb.upper()} {table or ''}".strip()
    slot = STATEMENTS[shape]
    slot[0] += 1
    slot[1] += len(parameters) if executemany and parameters else 1


def install_common() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio.engine import AsyncTransaction

    timed(AsyncTransaction, "__aexit__", "transaction end (commit)")
    event.listen(Engine, "before_cursor_execute", _count_statement)


def install_worker() -> None:
    from channels.email.smtp import SmtpEmail
    from channels.sms.twilio import TwilioSms
    from gateway import worker
    from gateway.services import dispatch, holding, receipts, verdicts
    from gateway.store import history, messages, timeline

    timed(worker.GatewayWorker, "execute_job", "rq execute_job (whole job)")
    timed(dispatch, "dispatch", "dispatch (whole job)")
    timed(messages, "claim", "claim (SQLite)")
    timed(messages, "lock_due", "row locks (PostgreSQL)")
    timed(holding, "_load", "load rows")
    timed(
        dispatch, "pipeline", "policy pipeline (per message: screening, then caps under the lock)"
    )
    timed(dispatch, "render_message", "render (per message)")
    timed(messages, "transition_each", "transition_each")
    timed(timeline, "append", "timeline append")
    for name in ("send_all", "_send_all"):  # moved to gateway.services.sending at some point
        if hasattr(dispatch, name):
            timed(dispatch, name, "send all (per job)")
    timed(receipts, "reconcile", "reconcile")
    timed(holding, "serialize", "per-debtor lock (wait included)")
    timed(history, "identities", "debtor identities")
    timed(history, "touches", "contact history read")
    timed(dispatch, "content_gate", "content gate (per message)")
    timed(verdicts.Verdicts, "write", "decisions write")
    timed(TwilioSms, "send", "twilio send (per message)")
    timed(SmtpEmail, "send", "smtp send (per message)")


def install_api() -> None:
    from gateway.api import reminders
    from gateway.services import intake
    from gateway.store import cases, templates, timeline

    timed(reminders, "read_json", "read + parse JSON body")
    timed(reminders, "validate", "pydantic validate batch")
    timed(intake, "accept", "intake accept (whole)")
    timed(intake, "request_hash", "request hash (per item)")
    if hasattr(intake, "preview_problem"):
        timed(intake, "preview_problem", "render preview (per item)")
    timed(cases, "for_intake", "load cases")
    timed(templates, "published", "load published templates")
    timed(timeline, "append", "timeline append")
    timed(intake, "enqueue_ids", "enqueue ids (in a thread)")
    timed(reminders, "json_response", "build JSON response")
    timed(reminders.BatchOut, "__init__", "BatchOut model")


def report() -> None:
    data = {
        label: {"n": int(n), "total_s": round(total, 3), "mean_ms": round(1000 * total / n, 3)}
        for label, (n, total) in sorted(PHASES.items(), key=lambda kv: -kv[1][1])
        if n
    }
    print("BENCH_TRACE " + json.dumps(data), file=sys.stderr, flush=True)
    statements = {
        shape: {"n": n, "rows": rows}
        for shape, (n, rows) in sorted(STATEMENTS.items(), key=lambda kv: -kv[1][0])
    }
    print("BENCH_STATEMENTS " + json.dumps(statements), file=sys.stderr, flush=True)


def main() -> int:
    from gateway.cli import main as cli_main

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    install_common()
    if command == "worker":
        install_worker()
    elif command == "api":
        install_api()
    atexit.register(report)
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
