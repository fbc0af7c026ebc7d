"""contact_points.role (debtor or third party); replies indexed by contact point and time

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact_points") as batch:
        batch.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="debtor")
        )
    op.create_index("ix_replies_contact_id_received_at", "replies", ["contact_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_replies_contact_id_received_at", table_name="replies")
    with op.batch_alter_table("contact_points") as batch:
        batch.drop_column("role")
