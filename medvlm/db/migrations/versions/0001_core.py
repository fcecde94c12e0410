"""Core DICOM index: patients, studies, series, instances, ingest events.

Revision ID: 0001_core
Revises: None
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def _created_at(index: bool = False) -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=index)


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("name", sa.String(324), nullable=False),
        sa.Column("birth_date", sa.String(8), nullable=False),
        sa.Column("sex", sa.String(16), nullable=False),
        _created_at(),
        sa.UniqueConstraint("patient_id", "issuer", name="uq_patients_id_issuer"),
    )
    op.create_table(
        "studies",
        sa.Column("study_instance_uid", sa.String(64), primary_key=True),
        sa.Column("patient_pk", sa.Integer(), sa.ForeignKey("patients.id"), nullable=False, index=True),
        sa.Column("study_date", sa.String(8), nullable=False),
        sa.Column("study_time", sa.String(16), nullable=False),
        sa.Column("accession_number", sa.String(64), nullable=False, index=True),
        sa.Column("study_id", sa.String(16), nullable=False),
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("referring_physician", sa.String(324), nullable=False),
        _created_at(index=True),
    )
    op.create_table(
        "series",
        sa.Column("series_instance_uid", sa.String(64), primary_key=True),
        sa.Column("study_instance_uid", sa.String(64), sa.ForeignKey("studies.study_instance_uid"),
                  nullable=False, index=True),
        sa.Column("modality", sa.String(16), nullable=False, index=True),
        sa.Column("series_number", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("body_part", sa.String(64), nullable=False),
        sa.Column("view_position", sa.String(16), nullable=False),
        _created_at(),
    )
    op.create_table(
        "instances",
        sa.Column("sop_instance_uid", sa.String(64), primary_key=True),
        sa.Column("series_instance_uid", sa.String(64), sa.ForeignKey("series.series_instance_uid"),
                  nullable=False, index=True),
        sa.Column("sop_class_uid", sa.String(64), nullable=False),
        sa.Column("transfer_syntax_uid", sa.String(64), nullable=False),
        sa.Column("instance_number", sa.Integer(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("samples_per_pixel", sa.Integer(), nullable=False),
        sa.Column("photometric", sa.String(16), nullable=False),
        sa.Column("bits_allocated", sa.Integer(), nullable=False),
        sa.Column("bits_stored", sa.Integer(), nullable=False),
        sa.Column("pixel_representation", sa.Integer(), nullable=False),
        sa.Column("window_center", sa.Float(), nullable=True),
        sa.Column("window_width", sa.Float(), nullable=True),
        sa.Column("rescale_slope", sa.Float(), nullable=False),
        sa.Column("rescale_intercept", sa.Float(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        _created_at(),
    )
    op.create_table(
        "ingest_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False, index=True),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False, index=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _created_at(index=True),
    )


def downgrade() -> None:
    for table in ("ingest_events", "instances", "series", "studies", "patients"):
        op.drop_table(table)
