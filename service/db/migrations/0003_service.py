"""Service: users, sessions, API keys, study states, draft jobs, reports, report versions, addenda.

Revision ID: 0003_service
Revises: 0002_registry
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_service"
down_revision = "0002_registry"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "service_users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_service_users_username", "service_users", ["username"], unique=True)
    op.create_table(
        "service_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("service_users.id"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
    )
    op.create_index("ix_service_sessions_user_id", "service_sessions", ["user_id"])
    op.create_table(
        "service_api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(36), sa.ForeignKey("service_users.id"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_table(
        "service_study_states",
        sa.Column("study_instance_uid", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("source_api_key_id", sa.String(36), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_service_study_states_status", "service_study_states", ["status"])
    op.create_index("ix_service_study_states_critical", "service_study_states", ["critical"])
    op.create_index("ix_service_study_states_source_api_key_id", "service_study_states", ["source_api_key_id"])
    op.create_table(
        "service_draft_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("study_instance_uid", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("worker_id", sa.String(64), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("report_id", sa.String(36), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_service_draft_jobs_study_instance_uid", "service_draft_jobs", ["study_instance_uid"])
    op.create_index("ix_service_draft_jobs_status", "service_draft_jobs", ["status"])
    op.create_index("ix_service_draft_jobs_created_at", "service_draft_jobs", ["created_at"])
    op.create_table(
        "service_reports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("study_instance_uid", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("findings_text", sa.Text(), nullable=False),
        sa.Column("impression", sa.Text(), nullable=False),
        sa.Column("original", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("consistency_flags", sa.JSON(), nullable=False),
        sa.Column("input_hashes", sa.JSON(), nullable=False),
        sa.Column("signed_by", sa.String(64), nullable=True),
        sa.Column("signed_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_service_reports_study_instance_uid", "service_reports", ["study_instance_uid"],
                    unique=True)
    op.create_table(
        "service_report_versions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("report_id", sa.String(36), sa.ForeignKey("service_reports.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("findings_text", sa.Text(), nullable=False),
        sa.Column("impression", sa.Text(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("report_id", "version", name="uq_report_version"),
    )
    op.create_index("ix_service_report_versions_report_id", "service_report_versions", ["report_id"])
    op.create_table(
        "service_addenda",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("report_id", sa.String(36), sa.ForeignKey("service_reports.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_service_addenda_report_id", "service_addenda", ["report_id"])


def downgrade() -> None:
    for table in ("service_addenda", "service_report_versions", "service_reports", "service_draft_jobs",
                  "service_study_states", "service_api_keys", "service_sessions", "service_users"):
        op.drop_table(table)
