"""cadence_runs, cadence_steps: follow-up cadences running on cases, one row per step

Revision ID: 0009
Revises: 0008
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def _where(condition: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table(
        "cadence_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column(
            "case_id",
            sa.Integer,
            sa.ForeignKey("cases.id", name="fk_cadence_runs_case_id_cases"),
            nullable=False,
        ),
        sa.Column("cadence", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start_at", TS, nullable=False),
        sa.Column("request", JSON, nullable=False),
        sa.Column("api_key_id", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("ended_at", TS),
        sa.Column("end_reason", sa.String(256)),
        sa.PrimaryKeyConstraint("id", name="pk_cadence_runs"),
    )
    op.create_index("ix_cadence_runs_case_id_id", "cadence_runs", ["case_id", "id"])
    op.create_index(
        "uq_cadence_runs_active_case",
        "cadence_runs",
        ["case_id"],
        unique=True,
        **_where("state = 'active'"),
    )
    op.create_table(
        "cadence_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey(
                "cadence_runs.id", name="fk_cadence_steps_run_id_cadence_runs", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_at", TS),
        sa.Column("check_at", TS),
        sa.Column("message_id", sa.String(32)),
        sa.Column("reason", sa.String(256)),
        sa.Column("sent_at", TS),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cadence_steps"),
        sa.UniqueConstraint("run_id", "idx", name="uq_cadence_steps_run_id_idx"),
    )
    op.create_index(
        "ix_cadence_steps_check_at",
        "cadence_steps",
        ["check_at"],
        **_where("check_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("cadence_steps")
    op.drop_table("cadence_runs")
