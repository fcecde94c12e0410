"""Service: the HL7 outbox (``service.hl7.tables.Hl7Message``), one row per ORU^R01 to deliver.

Revision ID: 0010_hl7_outbox
Revises: 0009_worklist_version
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_hl7_outbox"
down_revision = "0009_worklist_version"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "service_hl7_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("control_id", sa.String(20), nullable=False, unique=True),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("ack_code", sa.String(2), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
    )
    op.create_index("ix_service_hl7_outbox_report_id", "service_hl7_outbox", ["report_id"])
    op.create_index("ix_service_hl7_outbox_due", "service_hl7_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("service_hl7_outbox")
