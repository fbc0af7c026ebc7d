"""cadence_fallbacks: the messages a cadence step fell back to when its own failed on its channel

- `cadence_fallbacks`: one row per fallback of a step (attempt 1, 2… of its chain), with the new
  message (none when intake refused it) and why the step fell back. Unique per (step, attempt):
  a pump that runs twice makes one.
- `ix_cadence_fallbacks_message_id`, `ix_cadence_steps_message_id` (partial, not null): a
  failure receipt finds the cadence step its message belongs to, to have the pump look at once.

Revision ID: 0013
Revises: 0012
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _where(condition: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table(
        "cadence_fallbacks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey(
                "cadence_runs.id",
                name="fk_cadence_fallbacks_run_id_cadence_runs",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column(
            "step_id",
            sa.Integer,
            sa.ForeignKey(
                "cadence_steps.id",
                name="fk_cadence_fallbacks_step_id_cadence_steps",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(32)),
        sa.Column("replaces", sa.String(32)),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("rejected", sa.String(256)),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cadence_fallbacks"),
        sa.UniqueConstraint("step_id", "attempt", name="uq_cadence_fallbacks_step_id_attempt"),
    )
    op.create_index("ix_cadence_fallbacks_run_id", "cadence_fallbacks", ["run_id"])
    op.create_index(
        "ix_cadence_fallbacks_message_id",
        "cadence_fallbacks",
        ["message_id"],
        **_where("message_id IS NOT NULL"),
    )
    op.create_index(
        "ix_cadence_steps_message_id",
        "cadence_steps",
        ["message_id"],
        **_where("message_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_cadence_steps_message_id", table_name="cadence_steps")
    op.drop_table("cadence_fallbacks")
