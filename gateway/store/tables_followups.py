"""The follow-ups' tables: cadences running on cases and their steps, outbound webhooks and their
outbox. `gateway.store.tables` re-exports them: every table is imported from there."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.store.schema_base import _WHERE, JSON, TS, metadata

# A follow-up cadence running on a case (migration 0009): at most one `active` run per case;
# a replaced or stopped run stays as the record of what was planned.
cadence_runs = sa.Table(
    "cadence_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("cadence", sa.String(64), nullable=False),
    # `active`, `stopped` (by a stop condition, DELETE or a replacing PUT), `finished`.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("start_at", TS, nullable=False),
    # The PUT body as given ({"cadence", "start"}): the same body again changes nothing.
    sa.Column("request", JSON, nullable=False),
    # The key that started it: the steps' messages are created under it, each with an
    # idempotency key of the run and step, so a step released twice is still one message.
    sa.Column("api_key_id", sa.Integer, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("ended_at", TS),
    sa.Column("end_reason", sa.String(256)),
    sa.Index(None, "case_id", "id"),
    sa.Index("uq_cadence_runs_active_case", "case_id", unique=True, **_WHERE("state = 'active'")),
)

# One row per step of a run, with its due time: the scheduler's pump finds due steps here, so
# a Redis flush loses none.
cadence_steps = sa.Table(
    "cadence_steps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "run_id", sa.Integer, sa.ForeignKey("cadence_runs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("template", sa.String(64), nullable=False),
    # pending · released (its message exists) · sent · skipped · cancelled
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due_at", TS),
    # When the pump looks at the run again for this step: a pending step's due time; for a
    # released one, after its message's next attempt (did it go out?); NULL once it is done.
    sa.Column("check_at", TS),
    sa.Column("message_id", sa.String(32)),
    sa.Column("reason", sa.String(256)),
    sa.Column("sent_at", TS),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("run_id", "idx"),
    sa.Index(None, "check_at", **_WHERE("check_at IS NOT NULL")),
    # A failure receipt finds its message's step (migration 0012).
    sa.Index(None, "message_id", **_WHERE("message_id IS NOT NULL")),
)

# The messages a step fell back to when its own failed on its channel (migration 0012): attempt
# 1, 2… of the step's chain, each a new message through intake (none, with `rejected`, when
# intake refused it), `replaces` the message that failed, `reason` why it fell back.
cadence_fallbacks = sa.Table(
    "cadence_fallbacks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "run_id", sa.Integer, sa.ForeignKey("cadence_runs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column(
        "step_id",
        sa.Integer,
        sa.ForeignKey("cadence_steps.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("message_id", sa.String(32)),
    sa.Column("replaces", sa.String(32)),
    sa.Column("reason", sa.String(256), nullable=False),
    sa.Column("rejected", sa.String(256)),
    sa.Column("created_at", TS, nullable=False),
    sa.UniqueConstraint("step_id", "attempt"),
    sa.Index(None, "run_id"),
    sa.Index(None, "message_id", **_WHERE("message_id IS NOT NULL")),
)

# Outbound webhooks (migration 0010). A webhook belongs to the API key that registered it; its
# secret is kept as given to the caller, since every delivery is signed with it.
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("api_key_id", sa.Integer, nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("event_types", JSON, nullable=False),
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("deleted_at", TS),
    sa.Index(None, "tenant", **_WHERE("deleted_at IS NULL")),
)

# The outbox: one row per event and webhook, written in the transaction of the change it tells
# of. `chain` is the case (0 for none): a chain's rows are delivered in id order, one at a time.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("case_id", sa.Integer),
    sa.Column("chain", sa.Integer, nullable=False),
    sa.Column("data", JSON, nullable=False),
    sa.Column("occurred_at", TS, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", TS),
    sa.Column("give_up_at", TS, nullable=False),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.String(256)),
    sa.Column("delivered_at", TS),
    # The delivery loop's two questions: what is due, and what comes first in a chain.
    sa.Index(None, "next_attempt_at", **_WHERE("state = 'pending'")),
    sa.Index(None, "webhook_id", "chain", "id", **_WHERE("state = 'pending'")),
    sa.Index(None, "webhook_id", "id"),
)
