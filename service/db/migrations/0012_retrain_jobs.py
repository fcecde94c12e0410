"""Service: retraining jobs (``service.db.retrain_tables.RetrainJob``), queued by an admin, with progress.

Revision ID: 0012_retrain_jobs
Revises: 0011_worklist_uncertainty
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_retrain_jobs"
down_revision = "0011_worklist_uncertainty"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "service_retrain_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("data_dir", sa.Text(), nullable=False),
        sa.Column("curriculum", sa.Text(), nullable=False),
        sa.Column("promote", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(64), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.String(128), nullable=True),
        sa.Column("promoted", sa.Boolean(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_service_retrain_jobs_status", "service_retrain_jobs", ["status"])


def downgrade() -> None:
    op.drop_table("service_retrain_jobs")
