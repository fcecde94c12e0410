"""Service: why a study was not drafted, and which views it was drafted from, on the worklist.

``service_study_states.status_reason``: the reason behind a ``not_drafted`` or ``failed`` status (the
intended-use gate's refusal, or the draft job's last error), cleared by the next status.
``service_study_states.views``: the study's views as the gate accepted them (``[{kind, view_position}]``:
the frontal read, a lateral listed as the second view). Their changes, and a report's model version (the
worklist marks drafts by an unvalidated model), move the worklist version like the other shown columns.

Revision ID: 0013_worklist_reason_views
Revises: 0012_retrain_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_worklist_reason_views"
down_revision = "0012_retrain_jobs"
branch_labels = None
depends_on = None

_BUMP = "UPDATE service_worklist_version SET n = n + 1 WHERE id = 1"
# (trigger name, table, watched columns)
_TRIGGERS = [
    ("worklist_version_reason_views", "service_study_states", "status_reason, views"),
    ("worklist_version_model_version", "service_reports", "model_version"),
]


def upgrade() -> None:
    # plain ADD COLUMN (no batch table copy, which would lose the table's triggers on SQLite)
    op.add_column("service_study_states", sa.Column("status_reason", sa.Text(), nullable=True))
    op.add_column("service_study_states", sa.Column("views", sa.JSON(), nullable=True))
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, columns in _TRIGGERS:
        if postgres:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {name} AFTER UPDATE OF {columns} ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_worklist_version()"
            )
        else:
            op.execute(f"CREATE TRIGGER {name} AFTER UPDATE OF {columns} ON {table} BEGIN {_BUMP}; END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, _columns in _TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
    op.drop_column("service_study_states", "views")
    op.drop_column("service_study_states", "status_reason")
