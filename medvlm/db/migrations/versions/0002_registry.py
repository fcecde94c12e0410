"""Model registry: model versions with provenance and metrics.

Revision ID: 0002_registry
Revises: 0001_core
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_registry"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("parent", sa.String(length=64), nullable=True),
        sa.Column("preset", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("model_dir", sa.String(length=1000), nullable=False),
        sa.Column("curriculum", sa.String(length=1000), nullable=False),
        sa.Column("curriculum_sha256", sa.String(length=64), nullable=False),
        sa.Column("data_manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("card_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_model_versions_status", "model_versions", ["status"])
    # At most one production version, enforced by the database (both SQLite and PostgreSQL
    # support partial indexes), so two concurrent promotions cannot both win.
    op.create_index(
        "uq_model_versions_one_production", "model_versions", ["status"], unique=True,
        sqlite_where=sa.text("status = 'production'"), postgresql_where=sa.text("status = 'production'"),
    )


def downgrade() -> None:
    op.drop_index("uq_model_versions_one_production", table_name="model_versions")
    op.drop_index("ix_model_versions_status", table_name="model_versions")
    op.drop_table("model_versions")
