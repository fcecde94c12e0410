"""Hash-chained audit trail.

Revision ID: 0004_audit
Revises: 0003_service
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401

revision = "0004_audit"
down_revision = "0003_service"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
