"""The naive design the gateway is measured against: one RQ job per message, a forking worker.

Each job runs in a freshly forked work horse, opens its own database connection and a NEW SMTP
connection, loads the message, asks the policy, renders the pinned template with the gateway's own
renderer, sends, records `sent` and exits. Everything that is slow about it is what the gateway's
design avoids (fork per job, handshake per mail, one job per message); the rendering, MIME and
policy code are the gateway's, so the comparison is of the design, not of the code.

    python -m bench.naive worker QUEUE     # an `rq.Worker` (forking), modules imported up front
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import aiosmtplib
import sqlalchemy as sa

from channels.email.mime import build
from gateway.services.content import render_message
from gateway.settings import Settings
from gateway.states import State
from gateway.store import templates as template_store
from gateway.store.engine import create_engine
from gateway.store.tables import cases as C
from gateway.store.tables import contact_points as CP
from gateway.store.tables import messages as M
from scheduler.policy import CaseFacts, ContactFacts, MessageFacts, Verdict, decide

JOB = "bench.naive.send_one"


def send_one(message_id: str) -> str:
    """The RQ job: send one email message."""
    settings = Settings.from_env()
    return asyncio.run(_send_one(settings, message_id))


async def _send_one(settings: Settings, message_id: str) -> str:
    now = datetime.now(UTC)
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        M.c.id,
                        M.c.channel,
                        M.c.template_id,
                        M.c.purpose,
                        M.c.not_before,
                        M.c.data,
                        M.c.state,
                        C.c.case_ref,
                        C.c.debtor,
                        C.c.debt,
                        C.c.locale,
                        C.c.state.label("case_state"),
                        C.c.state_reason.label("case_state_reason"),
                        C.c.state_until,
                        C.c.preset,
                        CP.c.address,
                        CP.c.postal,
                        CP.c.status.label("contact_status"),
                    )
                    .join(C, C.c.id == M.c.case_id)
                    .join(CP, CP.c.id == M.c.contact_id)
                    .where(M.c.id == message_id)
                )
            ).one()
            templates = await template_store.by_ids(conn, {row.template_id})
        if row.state != State.ACCEPTED.value:
            return row.state
        decision = decide(
            MessageFacts(row.channel, row.purpose, row.not_before),
            CaseFacts(row.case_state, row.case_state_reason, row.state_until, row.preset),
            ContactFacts(row.channel, row.contact_status),
            now,
        )
        if decision.verdict is not Verdict.ALLOW:
            raise RuntimeError(f"the policy said {decision.verdict}: {decision.reason}")
        outgoing, rendered = render_message(
            SimpleNamespace(settings=settings),
            row,  # type: ignore[arg-type]
            templates[row.template_id],
            now,
        )
        sender = settings.email_from
        mail = build(
            outgoing,
            sender=sender,
            sender_name=settings.collector_name,
            domain=sender.rpartition("@")[2],
        )
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host, port=settings.smtp_port, timeout=settings.smtp_timeout_s
        )
        await smtp.connect()
        try:
            await smtp.sendmail(sender, [outgoing.to], mail.data)
        finally:
            await smtp.quit()
        sent_at = datetime.now(UTC)
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(M)
                .where(M.c.id == message_id)
                .values(
                    state=State.SENT.value,
                    provider="smtp",
                    provider_ref=mail.message_id,
                    rendered=rendered,
                    attempts=1,
                    sent_at=sent_at,
                    updated_at=sent_at,
                )
            )
        return State.SENT.value
    finally:
        await engine.dispose()


def enqueue_all(redis_url: str, queue: str, ids: list[str]) -> None:
    """One job per message, enqueued one by one, as the naive design would."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(redis_url)
    try:
        q = Queue(queue, connection=connection)
        for message_id in ids:
            q.enqueue(JOB, message_id, result_ttl=0, job_timeout=60)
    finally:
        connection.close()


def run_worker(queue: str) -> None:
    """RQ's default forking `Worker` on `queue`, with this module (and the gateway) imported."""
    from redis import Redis
    from rq import Queue, Worker

    settings = Settings.from_env()
    connection = Redis.from_url(settings.redis_url)
    worker = Worker([Queue(queue, connection=connection)], connection=connection)
    worker.work(logging_level="WARNING")


def main(argv: list[str]) -> Any:
    if len(argv) != 2 or argv[0] != "worker":
        raise SystemExit("usage: python -m bench.naive worker QUEUE")
    run_worker(argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
