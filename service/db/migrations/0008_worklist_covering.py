"""The worklist index carries the status too, so a page is read from the index alone.

``ix_study_states_worklist`` (migration 0007) is in the worklist's order but lacked ``status``, which
every page returns: each of the offset + page rows walked to reach a page cost a visit to the table
(550 of them for page 11). With ``status`` as a last key column (after the unique UID it never changes
the order; a key column rather than ``INCLUDE`` so that SQLite covers the query too) PostgreSQL reads
the page with an index-only scan once the table's pages are all-visible, as autovacuum keeps them.

Revision ID: 0008_worklist_covering
Revises: 0007_worklist_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_worklist_covering"
down_revision = "0007_worklist_keys"
branch_labels = None
depends_on = None

_ORDER: list[str | sa.TextClause] = [
    sa.text("critical DESC"),
    sa.text("study_date DESC"),
    sa.text("study_created_at DESC"),
    "study_instance_uid",
]


def upgrade() -> None:
    op.drop_index("ix_study_states_worklist", table_name="service_study_states")
    op.create_index("ix_study_states_worklist", "service_study_states", [*_ORDER, "status"])


def downgrade() -> None:
    op.drop_index("ix_study_states_worklist", table_name="service_study_states")
    op.create_index("ix_study_states_worklist", "service_study_states", _ORDER)
