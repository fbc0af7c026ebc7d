"""timeline hash chain: each entry's digest and the digest it links to, and each case's head

- `timeline.prev_digest`, `timeline.digest`: empty when an entry is written (the writers on the
  hot path are unchanged), filled in by the sealer (`gateway.store.chain`).
- `ix_timeline_id` (partial, `digest IS NULL`): the entries still to seal, without a scan.
- `cases.chain_digest`, `cases.chain_entry`, `cases.chain_count`: the case's chain head — the
  last sealed entry's digest and id, and how many entries are sealed — so that removing the last
  entry is detected as surely as removing any other.

Entries written before this revision are sealed by the first pass of the sealer, in id order.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timeline") as batch:
        batch.add_column(sa.Column("prev_digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("digest", sa.String(64), nullable=True))
    op.create_index(
        "ix_timeline_id",
        "timeline",
        ["id"],
        postgresql_where=sa.text("digest IS NULL"),
        sqlite_where=sa.text("digest IS NULL"),
    )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("chain_digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("chain_entry", sa.Integer, nullable=True))
        batch.add_column(sa.Column("chain_count", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("chain_count")
        batch.drop_column("chain_entry")
        batch.drop_column("chain_digest")
    op.drop_index("ix_timeline_id", table_name="timeline")
    with op.batch_alter_table("timeline") as batch:
        batch.drop_column("digest")
        batch.drop_column("prev_digest")
