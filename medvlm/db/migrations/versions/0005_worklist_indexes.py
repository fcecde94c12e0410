"""Worklist indexes: study date order (date filters, newest first) and series by study with modality.

Revision ID: 0005_worklist_indexes
Revises: 0004_audit
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_worklist_indexes"
down_revision = "0004_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # date_from / date_to filters and the newest-first order of the worklist had no index on study_date.
    op.create_index(
        "ix_studies_worklist_order",
        "studies",
        [sa.text("study_date DESC"), sa.text("created_at DESC"), "study_instance_uid"],
    )
    # The modality filter (EXISTS) and the per-row modality list read only these two columns.
    op.create_index("ix_series_study_modality", "series", ["study_instance_uid", "modality"])


def downgrade() -> None:
    op.drop_index("ix_series_study_modality", table_name="series")
    op.drop_index("ix_studies_worklist_order", table_name="studies")
