"""messages: indexes a message's later updates do not touch, so PostgreSQL can update in place

A message row is written once and updated two or three times (sending, sent, a receipt). An
update that changes no indexed column, and finds room on its page, is a heap-only (HOT) update:
no new entry in any index. Before this revision every update changed `state`, which led the
pump's index, and `attempted_at`, which led the caps' index, so none was.

- the pump's index is `next_attempt_at` alone, over the rows that have one: `next_attempt_at`
  is kept while the gateway may still attempt a message and cleared when it reaches a final
  state (the message store does it on every transition), so the index holds only live work;
- the frequency caps find a debtor's attempts through `case_id` (a handful of rows per case),
  without an index on `attempted_at`;
- the receipts' index on `(provider, provider_ref)` holds only rows that have a reference;
- on PostgreSQL, pages keep a fifth free for the in-place updates (fillfactor 80).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Where the gateway will not attempt a message again (gateway.states.FINAL and UNKNOWN).
DONE = (
    "'sent', 'delivered', 'undelivered', 'bounced', 'returned', "
    "'suppressed', 'failed', 'expired', 'cancelled', 'unknown'"
)


def upgrade() -> None:
    op.execute(f"UPDATE messages SET next_attempt_at = NULL WHERE state IN ({DONE})")
    op.execute(
        "UPDATE messages SET next_attempt_at = COALESCE(not_before, created_at) "
        f"WHERE next_attempt_at IS NULL AND state NOT IN ({DONE})"
    )
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_state_next_attempt_at")
        batch.drop_index("ix_messages_case_id_attempted_at")
        batch.drop_index("ix_messages_provider_provider_ref")
        batch.create_index(
            "ix_messages_next_attempt_at",
            ["next_attempt_at"],
            postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
            sqlite_where=sa.text("next_attempt_at IS NOT NULL"),
        )
        batch.create_index(
            "ix_messages_provider_provider_ref",
            ["provider", "provider_ref"],
            postgresql_where=sa.text("provider_ref IS NOT NULL"),
            sqlite_where=sa.text("provider_ref IS NOT NULL"),
        )
    if op.get_bind().dialect.name == "postgresql":
        # New and moved rows use it; existing pages get it as they are rewritten.
        op.execute("ALTER TABLE messages SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE messages RESET (fillfactor)")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_provider_provider_ref")
        batch.drop_index("ix_messages_next_attempt_at")
        batch.create_index("ix_messages_provider_provider_ref", ["provider", "provider_ref"])
        batch.create_index("ix_messages_case_id_attempted_at", ["case_id", "attempted_at"])
        batch.create_index("ix_messages_state_next_attempt_at", ["state", "next_attempt_at"])
