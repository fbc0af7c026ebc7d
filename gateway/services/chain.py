"""Sealing the case timelines and verifying their hash chains (see `gateway.store.chain`).

`seal_pending` links every entry written since the last pass; the scheduler's leader runs it
each tick, and an export or a verification runs it first, so what they read is sealed.
`verify` recomputes every sealed entry's digest and walks each case's chain from its first link
to the case's head: an edited entry no longer matches its digest; a removed one leaves the next
entry linking to a digest nobody has; a removed last entry leaves the chain short of the head;
entries swapped in order no longer match their digests (each covers its id and its link).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.store import chain
from gateway.store.tables import cases as C
from gateway.store.tables import timeline as T


async def seal_pending(
    engine: AsyncEngine, *, case_id: int | None = None, batches: int | None = None
) -> int:
    """Seal the unsealed entries (of one case, or all), a batch per transaction; how many.
    `batches` bounds the work: the scheduler's tick seals one batch, so during a burst the
    sealer falls behind (an export or a verification still seals what it reads) instead of
    taking a core from the workers, and catches up when the burst is over."""
    total, passes = 0, 0
    while batches is None or passes < batches:
        async with engine.begin() as conn:
            await chain.lock(conn)
            sealed = await chain.seal(conn, case_id=case_id)
            full = sealed == chain.batch_size(conn)
        total, passes = total + sealed, passes + 1
        if not full:
            break
    return total


@dataclass(frozen=True)
class Problem:
    tenant: str
    case_ref: str
    entry: int | None
    what: str

    def __str__(self) -> str:
        where = f"entry {self.entry}" if self.entry is not None else "its chain"
        return f"case {self.case_ref} (tenant {self.tenant}): {where} {self.what}"


@dataclass
class Report:
    cases: int = 0
    sealed: int = 0
    unsealed: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_case(
    tenant: str, case_ref: str, head: chain.Head, entries: Sequence[Any]
) -> tuple[int, int, list[Problem]]:
    """(sealed, unsealed, problems) of one case's entries against its head."""

    def problem(entry: int | None, what: str) -> Problem:
        return Problem(tenant, case_ref, entry, what)

    sealed = [e for e in entries if e.digest is not None]
    problems = [
        problem(e.id, "does not match its digest: edited, or moved from its place")
        for e in sealed
        if chain.digest(e, e.prev_digest or chain.GENESIS) != e.digest
    ]
    digests = {e.digest for e in sealed}
    following: dict[str, list[Any]] = defaultdict(list)
    for e in sealed:
        link = e.prev_digest or chain.GENESIS
        following[link].append(e)
        if link != chain.GENESIS and link not in digests:
            problems.append(problem(e.id, "links to an entry that is missing: one was removed"))
    for entries_after in following.values():
        for fork in entries_after[1:]:
            problems.append(
                problem(fork.id, f"links to the same entry as entry {entries_after[0].id}")
            )
    # Walk from the first link to the end, as the sealer made it.
    link, walked, last = chain.GENESIS, 0, None
    while (after := following.get(link)) and walked <= len(sealed):
        last, link, walked = after[0], after[0].digest, walked + 1
    if not problems and (link != head.digest or walked != head.count):
        reached = f"ends after {walked} entries at entry {last.id if last else None}"
        problems.append(
            problem(
                head.entry,
                f"is missing: the case's chain {reached}, its head is entry {head.entry} "
                f"after {head.count} (the last entries were removed)",
            )
        )
    return len(sealed), len(entries) - len(sealed), problems


async def verify(
    engine: AsyncEngine, *, tenant: str | None = None, case_ref: str | None = None
) -> Report:
    """Seal what is pending, then check every case (of `tenant`; or the one `case_ref`)."""
    report = Report()
    async with engine.connect() as conn:
        query = sa.select(
            C.c.id, C.c.tenant, C.c.case_ref, C.c.chain_digest, C.c.chain_entry, C.c.chain_count
        ).order_by(C.c.id)
        if tenant is not None:
            query = query.where(C.c.tenant == tenant)
        if case_ref is not None:
            query = query.where(C.c.case_ref == case_ref)
        cases = list(await conn.execute(query))
    one = cases[0].id if case_ref is not None and len(cases) == 1 else None
    await seal_pending(engine, case_id=one)
    columns = (*chain.ENTRY_COLUMNS, T.c.prev_digest, T.c.digest)
    async with engine.connect() as conn:
        for case in cases:
            # Read after sealing: the head and the entries as the sealer left them.
            head = (await chain.heads(conn, [case.id]))[case.id]
            entries = list(
                await conn.execute(
                    sa.select(*columns).where(T.c.case_id == case.id).order_by(T.c.id)
                )
            )
            sealed, unsealed, problems = check_case(case.tenant, case.case_ref, head, entries)
            report.cases += 1
            report.sealed += sealed
            report.unsealed += unsealed
            report.problems.extend(problems)
    return report
