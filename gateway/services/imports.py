"""Bulk import of cases and reminders (`reminder-gateway import cases|reminders FILE.csv`).

A file is all or nothing: every row is validated and written in ONE transaction, and when any
row is wrong the transaction is rolled back, so nothing of the file is stored and the operator
fixes the file and runs it again. With `skip_invalid` the valid rows are committed and the wrong
ones reported. Validation is the API's own (the same request models, the same intake), so an
import accepts exactly what the API would.

A re-run of the same file changes nothing: a case identical to the stored one is left as it is
(no write, no timeline entry), and a reminder's idempotency key finds the message the first run
accepted. Reminders' dispatch jobs are enqueued only after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.runtime import Runtime
from gateway.schemas import CaseIn, Ref, ReminderIn
from gateway.services import intake, outbound
from gateway.services.cases import case_contacts, case_fields
from gateway.services.import_rows import Problem, parse_case, parse_reminder
from gateway.store import cases as case_store
from gateway.store import new_cases, timeline
from gateway.store.keys import ApiKey
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP

CHUNK = 1000
Rows = Iterable[tuple[int, dict[str, str | None]]]  # (line of the file, cells by column)
Progress = Callable[[int], None]  # called with the number of rows just handled
_REF = TypeAdapter(Ref)
# The stored fields an import compares to decide that a case is unchanged.
_COMPARED = ("debtor", "locale", "timezone", "preset", "collector_role", "debt")


@dataclass
class Report:
    kind: str
    rows: int = 0
    written: int = 0  # cases created or changed; reminders accepted
    unchanged: int = 0  # cases as stored already; reminders accepted by an earlier run
    problems: list[Problem] = field(default_factory=list)
    committed: bool = False

    @property
    def invalid_rows(self) -> int:
        return len({p.row for p in self.problems})


def _chunks(rows: Rows) -> Iterator[list[tuple[int, dict[str, str | None]]]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


async def import_cases(
    rt: Runtime, *, tenant: str, actor: str, rows: Rows, skip_invalid: bool, progress: Progress
) -> Report:
    report = Report("cases")
    seen: dict[str, int] = {}  # case_ref → the line that gave it
    async with rt.engine.connect() as conn:
        transaction = await conn.begin()
        for chunk in _chunks(rows):
            valid: dict[str, CaseIn] = {}
            for line, row in chunk:
                report.rows += 1
                case_ref, parsed = parse_case(row, line)
                problems = _case_problems(
                    rt, case_ref, parsed, (row.get("preset") or "").strip(), line, seen
                )
                if problems:
                    report.problems += problems
                    continue
                assert isinstance(parsed, CaseIn)
                seen[case_ref] = line
                valid[case_ref] = parsed
            await _write_cases(conn, rt, tenant, actor, valid, report)
            progress(len(chunk))
        await _finish(transaction, report, skip_invalid)
    return report


def _case_problems(
    rt: Runtime, case_ref: str, parsed: Any, preset: str, line: int, seen: dict[str, int]
) -> list[Problem]:
    problems = [] if isinstance(parsed, CaseIn) else list(parsed)
    try:
        _REF.validate_python(case_ref)
    except ValidationError:
        message = "1-128 characters of letters, digits and . _ : -"
        problems.append(Problem(line, "case_ref", "invalid", message))
    if case_ref in seen:
        message = f"case {case_ref!r} is also on line {seen[case_ref]}"
        problems.append(Problem(line, "case_ref", "repeated", message))
    if preset and preset not in rt.presets:
        message = f"unknown preset {preset!r}; known: {', '.join(sorted(rt.presets))}"
        problems.append(Problem(line, "preset", "unknown_preset", message))
    return problems


async def _write_cases(
    conn: AsyncConnection,
    rt: Runtime,
    tenant: str,
    actor: str,
    valid: dict[str, CaseIn],
    report: Report,
) -> None:
    now = rt.clock()
    stored = {
        r.case_ref: r
        for r in await conn.execute(
            sa.select(C).where(C.c.tenant == tenant, C.c.case_ref.in_(list(valid)))
        )
    }
    points: dict[int, set[tuple[str, str, str]]] = {}
    if stored:
        for r in await conn.execute(
            sa.select(CP.c.case_id, CP.c.channel, CP.c.address, CP.c.role, CP.c.status).where(
                CP.c.case_id.in_([s.id for s in stored.values()])
            )
        ):
            if r.status == "active":
                points.setdefault(r.case_id, set()).add((r.channel, r.address, r.role))
    new: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    entries: list[dict[str, Any]] = []
    for ref, body in valid.items():
        fields, contacts = case_fields(body), case_contacts(body)
        current = stored.get(ref)
        if current is None:
            new[ref] = (fields, contacts)
            continue
        wanted = {(c["channel"], c["address"], c.get("role", "debtor")) for c in contacts}
        if all(getattr(current, f) == fields[f] for f in _COMPARED) and wanted == points.get(
            current.id, set()
        ):
            report.unchanged += 1
            continue
        case_id, _, changes = await case_store.upsert(
            conn, tenant=tenant, case_ref=ref, fields=fields, contacts=contacts, now=now
        )
        entries.append(timeline.entry(case_id, "case_updated", now, actor=actor, changes=changes))
        report.written += 1
    ids = await new_cases.insert(conn, tenant, new, now)
    entries += [
        timeline.entry(ids[ref], "case_created", now, actor=actor, preset=fields["preset"])
        for ref, (fields, _) in new.items()
    ]
    report.written += len(new)
    await timeline.append(conn, entries)


async def import_reminders(
    rt: Runtime, *, key: ApiKey, rows: Rows, skip_invalid: bool, progress: Progress
) -> Report:
    report = Report("reminders")
    due: list[tuple[str, str]] = []
    seen: dict[str, tuple[int, ReminderIn]] = {}  # idempotency key → (line, reminder)
    async with rt.engine.connect() as conn:
        transaction = await conn.begin()
        for chunk in _chunks(rows):
            items: list[tuple[int, ReminderIn]] = []
            for line, row in chunk:
                report.rows += 1
                parsed = parse_reminder(row, line)
                if isinstance(parsed, list):
                    report.problems += parsed
                    continue
                earlier = seen.get(parsed.idempotency_key)
                if earlier is not None and earlier[1] != parsed:
                    message = f"this idempotency key is used differently on line {earlier[0]}"
                    report.problems.append(Problem(line, "idempotency_key", "conflict", message))
                    continue
                seen[parsed.idempotency_key] = (line, parsed)
                items.append((line, parsed))
            if items:
                results, chunk_due = await intake.accept_in(conn, rt, key, [i for _, i in items])
                due += chunk_due
                for (line, _), result in zip(items, results, strict=True):
                    if result.status == "accepted":
                        report.written += 1
                    elif result.status == "duplicate":
                        report.unchanged += 1
                    else:
                        error = result.error or {}
                        code, message = error.get("code", "rejected"), error.get("message", "")
                        report.problems.append(Problem(line, _reminder_column(code), code, message))
            progress(len(chunk))
        await _finish(transaction, report, skip_invalid)
    if report.committed:
        await outbound.enqueue(rt, due)
    return report


def _reminder_column(code: str) -> str:
    return {
        "unknown_case": "case_ref",
        "unknown_template": "template",
        "template_unavailable": "template",
        "no_contact_point": "to",
        "already_expired": "expires_at",
        "idempotency_conflict": "idempotency_key",
    }.get(code, "template")


async def _finish(transaction: Any, report: Report, skip_invalid: bool) -> None:
    if report.problems and not skip_invalid:
        await transaction.rollback()
        report.written = report.unchanged = 0
        return
    await transaction.commit()
    report.committed = True
