"""replies inbox: whose each reply is, whether it waits for a person, and how one resolved it

- `replies.tenant`: the case's tenant, or for a sender on no case the tenant owning the address it
  was sent to (`gateway.reply_tenants`); the inbox lists a key's own tenant's replies only.
- `replies.status`: `open` while a person must look, `resolved` once one has; empty for replies
  acted on with nobody needed. `replies.review_reasons`: why it waits.
- `replies.resolved_at`, `resolved_by` (the API key's actor), `resolution` (the category the
  person read), `resolution_note`, `resolution_effects` (what that reading did).
- `ix_replies_tenant_status_id`: the inbox's listing, oldest first.

Replies stored before this revision: a matched one takes its case's tenant, and one flagged
`needs_review` is `open` with the reasons its effects recorded (a sender on no case: that).
Replies of senders on no case stay without a tenant: which address they were sent to is known,
whose it is was not configured then.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
NO_CASE = "the sender is on no case"


def upgrade() -> None:
    with op.batch_alter_table("replies") as batch:
        batch.add_column(sa.Column("tenant", sa.String(64), nullable=True))
        batch.add_column(sa.Column("status", sa.String(16), nullable=True))
        batch.add_column(sa.Column("review_reasons", JSON, nullable=True))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolved_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("resolution", sa.String(32), nullable=True))
        batch.add_column(sa.Column("resolution_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("resolution_effects", JSON, nullable=True))
    op.create_index("ix_replies_tenant_status_id", "replies", ["tenant", "status", "id"])
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    replies = sa.table(
        "replies",
        sa.column("id", sa.Integer),
        sa.column("case_id", sa.Integer),
        sa.column("tenant", sa.String),
        sa.column("status", sa.String),
        sa.column("needs_review", sa.Boolean),
        sa.column("effects", JSON),
        sa.column("review_reasons", JSON),
    )
    cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("tenant", sa.String))
    conn.execute(
        sa.update(replies)
        .where(replies.c.case_id.is_not(None))
        .values(
            tenant=sa.select(cases.c.tenant)
            .where(cases.c.id == replies.c.case_id)
            .scalar_subquery()
        )
    )
    flagged = conn.execute(
        sa.select(replies.c.id, replies.c.case_id, replies.c.effects).where(
            replies.c.needs_review.is_(True)
        )
    )
    for row in list(flagged):
        reasons = [
            reason
            for effect in row.effects or []
            if effect.get("effect") == "review"
            for reason in effect.get("reasons", [])
        ]
        if row.case_id is None:
            reasons = [NO_CASE]
        conn.execute(
            sa.update(replies)
            .where(replies.c.id == row.id)
            .values(status="open", review_reasons=reasons)
        )


def downgrade() -> None:
    op.drop_index("ix_replies_tenant_status_id", table_name="replies")
    with op.batch_alter_table("replies") as batch:
        for column in (
            "resolution_effects",
            "resolution_note",
            "resolution",
            "resolved_by",
            "resolved_at",
            "review_reasons",
            "status",
            "tenant",
        ):
            batch.drop_column(column)
