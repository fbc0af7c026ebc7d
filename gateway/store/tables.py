"""The schema, as SQLAlchemy Core tables. Alembic migrations create exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TS = UTCDateTime


def _WHERE(condition: str) -> dict[str, Any]:  # noqa: N802 — reads as a clause in Index(...)
    """A partial index's condition, on both databases."""
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("scopes", JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("revoked_at", TS),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("case_ref", sa.String(128), nullable=False),
    sa.Column("debtor", JSON, nullable=False),
    sa.Column("locale", sa.String(16), nullable=False),
    sa.Column("timezone", sa.String(64)),
    sa.Column("preset", sa.String(32), nullable=False),
    sa.Column("collector_role", sa.String(16), nullable=False),
    sa.Column("debt", JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_reason", sa.String(64)),
    sa.Column("state_until", TS),
    # The debtor's own restrictions (compliance §6.1 step 5): {"hours": {"start", "end"},
    # "days": [...], "channels": [...]}, any of them absent.
    sa.Column("restrictions", JSON),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    # The head of the case's sealed timeline chain (`gateway.store.chain`, migration 0011): the
    # last sealed entry's digest and id, and how many are sealed, so that removing the last
    # entry is seen too. Written only by the sealer.
    sa.Column("chain_digest", sa.String(64)),
    sa.Column("chain_entry", sa.Integer),
    sa.Column("chain_count", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("tenant", "case_ref"),
)

contact_points = sa.Table(
    "contact_points",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("address", sa.String(320), nullable=False),
    sa.Column("postal", JSON),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.String(64)),
    # `debtor`, or `third_party` (e.g. an emergency contact): never the debtor's identity, and
    # never messaged about the debt under the built-in presets (compliance §6.2 thirdparty.policy).
    sa.Column("role", sa.String(16), nullable=False, server_default="debtor"),
    sa.Column("consent", JSON),
    # A phone number's zones as its prefix names them, read once when it was stored
    # (`scheduler.zones.phone_record`; migration 0008).
    sa.Column("zones", JSON),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("case_id", "channel", "address"),
    sa.Index(None, "channel", "address"),
)

template_versions = sa.Table(
    "template_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("locale", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("html", sa.Text),
    sa.Column("meta", JSON, nullable=False),
    sa.Column("author", sa.String(128), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("published_at", TS),
    sa.UniqueConstraint("key", "channel", "locale", "version"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    # The contact point, template version and API key are not foreign keys (migration 0008):
    # checking them cost more than the rest of a message's insert, and none of those rows is
    # ever deleted; intake reads each in the transaction that inserts the message.
    sa.Column("contact_id", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("template_id", sa.Integer, nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("state_reason", sa.String(128)),
    sa.Column("next_attempt_at", TS),
    sa.Column("enqueued_at", TS),
    sa.Column("lease_until", TS),
    sa.Column("claim_token", sa.String(32)),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("provider", sa.String(32)),
    sa.Column("provider_ref", sa.String(128)),
    # None for the answers the gateway creates itself (an opt-out confirmation, a HELP reply…).
    sa.Column("api_key_id", sa.Integer, nullable=True),
    sa.Column("idempotency_key", sa.String(128), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("not_before", TS),
    sa.Column("expires_at", TS),
    sa.Column("data", JSON, nullable=False),
    sa.Column("rendered", JSON),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("sent_at", TS),
    # When the message was handed to a provider call (entered `sending`): frequency caps count
    # attempts, delivered or not.
    sa.Column("attempted_at", TS),
    sa.UniqueConstraint("api_key_id", "idempotency_key"),
    # Indexes a message's updates after its insert leave alone (migration 0007), so PostgreSQL
    # updates it in place: the pump's work (`next_attempt_at` is cleared once nothing more will
    # be attempted), the receipts' lookup (only rows with a provider reference), the case.
    sa.Index(None, "next_attempt_at", **_WHERE("next_attempt_at IS NOT NULL")),
    sa.Index(None, "provider", "provider_ref", **_WHERE("provider_ref IS NOT NULL")),
    sa.Index(None, "case_id"),
    postgresql_with={"fillfactor": 80},
)

delivery_events = sa.Table(
    "delivery_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(32), sa.ForeignKey("messages.id")),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("provider_ref", sa.String(128), nullable=False),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("event_type", sa.String(16), nullable=False),
    sa.Column("reject_reason", sa.String(64)),
    sa.Column("description", sa.String(256)),
    sa.Column("occurred_at", TS, nullable=False),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("raw", JSON, nullable=False),
    sa.UniqueConstraint("provider", "event_id"),
    sa.Index(None, "provider", "provider_ref"),
    sa.Index(None, "message_id"),
)

replies = sa.Table(
    "replies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id")),
    sa.Column("contact_id", sa.Integer, sa.ForeignKey("contact_points.id")),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("provider_ref", sa.String(128)),
    sa.Column("from_addr", sa.String(320), nullable=False),
    sa.Column("to_addr", sa.String(320)),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("raw", JSON, nullable=False),
    # What the classifier read: every category (most restrictive first; `category` holds the
    # first), facts such as a promised date, its confidence and version.
    sa.Column("categories", JSON),
    sa.Column("facts", JSON),
    sa.Column("confidence", sa.Float),
    sa.Column("classifier_version", sa.String(32)),
    # What the reply did to its case and contact points, and whether operations must look at it.
    sa.Column("effects", JSON),
    sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
    # A provider's id for the inbound message (Twilio MessageSid, the mail's Message-ID): a
    # replayed callback or a mail delivered twice is the same reply (NULLs never collide).
    sa.UniqueConstraint("provider", "provider_ref"),
    sa.Index(None, "case_id"),
    # The policy asks when a contact point last wrote to us (inbound grace, §6.5).
    sa.Index(None, "contact_id", "received_at"),
)

timeline = sa.Table(
    "timeline",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("message_id", sa.String(32)),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("data", JSON, nullable=False),
    # The hash chain (`gateway.store.chain`, migration 0011): left empty by the writers on the
    # hot path, filled in by the sealer: the digest of the case's entry before this one on the
    # chain, and this entry's own digest over its columns and that link.
    sa.Column("prev_digest", sa.String(64)),
    sa.Column("digest", sa.String(64)),
    sa.Index(None, "case_id", "id"),
    # The sealer's work: only entries not sealed yet, so the index stays small.
    sa.Index(None, "id", **_WHERE("digest IS NULL")),
)

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
