"""pause ends: the scheduler finds paused cases whose pause is over without a scan

- `ix_cases_state_until` (partial, `state = 'paused'`): the paused cases by when their pause
  ends (`gateway.services.pause_ends`: a promise to pay that passed is broken, and the case's
  cadence resumes).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_state_until",
        "cases",
        ["state_until"],
        postgresql_where=sa.text("state = 'paused'"),
        sqlite_where=sa.text("state = 'paused'"),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_state_until", table_name="cases")
