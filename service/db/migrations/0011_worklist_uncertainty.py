"""Service: the worklist's "most uncertain first" key, ``service_study_states.uncertainty``.

The draft's smallest |probability - threshold| over its findings (``medvlm.inference.uncertainty``), set
when a draft is stored; ``GET /studies?order=uncertainty`` lists the nearest calls first (the studies whose
correction teaches the model most). Its changes move the worklist version like the other sort keys (0009).

Revision ID: 0011_worklist_uncertainty
Revises: 0010_hl7_outbox
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_worklist_uncertainty"
down_revision = "0010_hl7_outbox"
branch_labels = None
depends_on = None

_BUMP = "UPDATE service_worklist_version SET n = n + 1 WHERE id = 1"


def upgrade() -> None:
    # plain ADD / DROP COLUMN (no batch table copy, which would lose the table's triggers on SQLite)
    op.add_column("service_study_states", sa.Column("uncertainty", sa.Float(), nullable=True))
    op.create_index("ix_service_study_states_uncertainty", "service_study_states", ["uncertainty"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE CONSTRAINT TRIGGER worklist_version_uncertainty AFTER UPDATE OF uncertainty "
            "ON service_study_states DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "EXECUTE FUNCTION bump_worklist_version()"
        )
    else:
        op.execute(
            "CREATE TRIGGER worklist_version_service_study_states_uncertainty AFTER UPDATE OF uncertainty "
            f"ON service_study_states BEGIN {_BUMP}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER worklist_version_uncertainty ON service_study_states")
    else:
        op.execute("DROP TRIGGER worklist_version_service_study_states_uncertainty")
    op.drop_index("ix_service_study_states_uncertainty", "service_study_states")
    op.drop_column("service_study_states", "uncertainty")
