"""outbound webhooks: the registrations and their outbox

- `webhooks`: a URL, the event types wanted and the signing secret, owned by the API key that
  registered it (soft-deleted: its past deliveries stay readable).
- `webhook_deliveries`: the outbox, one row per event and webhook, written in the transaction
  of the change it tells of; the scheduler's delivery loop sends them, in order per case.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PENDING = "state = 'pending'"


def _json() -> sa.types.TypeEngine:
    from sqlalchemy.dialects import postgresql

    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _where(condition: str) -> dict:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("api_key_id", sa.Integer, nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("event_types", _json(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("deleted_at", ts),
    )
    op.create_index("ix_webhooks_tenant", "webhooks", ["tenant"], **_where("deleted_at IS NULL"))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("webhook_id", sa.String(32), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer),
        sa.Column("chain", sa.Integer, nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("occurred_at", ts, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", ts),
        sa.Column("give_up_at", ts, nullable=False),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.String(256)),
        sa.Column("delivered_at", ts),
    )
    op.create_index(
        "ix_webhook_deliveries_next_attempt_at",
        "webhook_deliveries",
        ["next_attempt_at"],
        **_where(PENDING),
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_id_chain_id",
        "webhook_deliveries",
        ["webhook_id", "chain", "id"],
        **_where(PENDING),
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_id_id", "webhook_deliveries", ["webhook_id", "id"]
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
