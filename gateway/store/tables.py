"""The schema, as SQLAlchemy Core tables. Alembic migrations create exactly this."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.store.schema_base import _WHERE, JSON, TS, UTCDateTime, metadata

# Re-exported, so that every table is imported from here.
from gateway.store.tables_followups import (  # noqa: F401
    cadence_fallbacks,
    cadence_runs,
    cadence_steps,
    webhook_deliveries,
    webhooks,
)

__all__ = ["JSON", "TS", "UTCDateTime", "metadata"]

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
    # The scheduler's look for pauses that are over (`gateway.services.pause_ends`, 0012).
    sa.Index(None, "state_until", **_WHERE("state = 'paused'")),
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
    # The operators' inbox (migration 0013): whose the reply is (its case's tenant, or the owner
    # of the address it was sent to, `gateway.reply_tenants`), `open` while a person must look and
    # why, `resolved` once one has: when, by whom, the category they read, their note, and what
    # that reading did. No status: acted on with nobody needed.
    sa.Column("tenant", sa.String(64)),
    sa.Column("status", sa.String(16)),
    sa.Column("review_reasons", JSON),
    sa.Column("resolved_at", TS),
    sa.Column("resolved_by", sa.String(128)),
    sa.Column("resolution", sa.String(32)),
    sa.Column("resolution_note", sa.Text),
    sa.Column("resolution_effects", JSON),
    # A provider's id for the inbound message (Twilio MessageSid, the mail's Message-ID): a
    # replayed callback or a mail delivered twice is the same reply (NULLs never collide).
    sa.UniqueConstraint("provider", "provider_ref"),
    sa.Index(None, "case_id"),
    # The policy asks when a contact point last wrote to us (inbound grace, §6.5).
    sa.Index(None, "contact_id", "received_at"),
    sa.Index(None, "tenant", "status", "id"),
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
