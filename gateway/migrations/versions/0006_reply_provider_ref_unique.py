"""replies: one reply per (provider, provider_ref), so a replayed callback is not a second reply

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NAME = "uq_replies_provider_provider_ref"


def upgrade() -> None:
    # Replays stored before this revision stay as the evidence they are, but only the first of
    # each keeps the provider's reference (the raw payload still carries it), so the constraint
    # can hold without deleting anything a timeline entry points at.
    replies = sa.table("replies", sa.column("id"), sa.column("provider"), sa.column("provider_ref"))
    first = (
        sa.select(sa.func.min(replies.c.id))
        .where(replies.c.provider_ref.is_not(None))
        .group_by(replies.c.provider, replies.c.provider_ref)
    )
    op.execute(
        sa.update(replies)
        .where(replies.c.provider_ref.is_not(None), replies.c.id.not_in(first))
        .values(provider_ref=None)
    )
    with op.batch_alter_table("replies") as batch:
        batch.create_unique_constraint(NAME, ["provider", "provider_ref"])


def downgrade() -> None:
    with op.batch_alter_table("replies") as batch:
        batch.drop_constraint(NAME, type_="unique")
