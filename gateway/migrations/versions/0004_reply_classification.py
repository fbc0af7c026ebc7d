"""replies: what the classifier read (categories, facts, confidence, version), what the reply did
(effects) and whether operations must look at it; messages the gateway creates itself (answers
to replies) have no API key

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("replies") as batch:
        batch.add_column(sa.Column("categories", JSON, nullable=True))
        batch.add_column(sa.Column("facts", JSON, nullable=True))
        batch.add_column(sa.Column("confidence", sa.Float(), nullable=True))
        batch.add_column(sa.Column("classifier_version", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("effects", JSON, nullable=True))
        batch.add_column(
            sa.Column("needs_review", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("api_key_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Fails while answers created by the gateway exist: they have no key to fall back on.
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("api_key_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("replies") as batch:
        for column in (
            "needs_review",
            "effects",
            "classifier_version",
            "confidence",
            "facts",
            "categories",
        ):
            batch.drop_column(column)
