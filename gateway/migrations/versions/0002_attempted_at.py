"""messages.attempted_at: when a message was handed to a provider (frequency caps count attempts)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column(
                "attempted_at", gateway.store.tables.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch.create_index("ix_messages_case_id_attempted_at", ["case_id", "attempted_at"])
    # Messages already handed over count from when they were last updated.
    op.execute(
        "UPDATE messages SET attempted_at = COALESCE(sent_at, updated_at) "
        "WHERE state IN ('sending', 'sent', 'delivered', 'undelivered', 'bounced', 'returned', 'unknown')"
    )


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_case_id_attempted_at")
        batch.drop_column("attempted_at")
