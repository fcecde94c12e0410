"""The DICOM index: patients, studies, series, instances, and the ingest event log (migration 0001_core).

Studies, series and instances are keyed by their DICOM UIDs (what every other module already holds);
patients get a surrogate key because Patient ID is neither unique across issuers nor always present.
``Instance.path`` is the absolute path of the stored original, ``Instance.sha256`` its content address.
Rows are written only after their file is durably in the store (see ``medvlm.dicom.ingest``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def now_utc() -> datetime:
    return datetime.now(UTC)


class Patient(SQLModel, table=True):
    __tablename__ = "patients"
    __table_args__ = (sa.UniqueConstraint("patient_id", "issuer", name="uq_patients_id_issuer"),)
    id: int | None = Field(default=None, primary_key=True)
    patient_id: str = Field(default="", max_length=64)
    issuer: str = Field(default="", max_length=64)
    name: str = Field(default="", max_length=324)
    birth_date: str = Field(default="", max_length=8)  # DICOM DA, kept as written
    sex: str = Field(default="", max_length=16)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))


class Study(SQLModel, table=True):
    __tablename__ = "studies"
    # The worklist's date filters and newest-first order (migration 0005).
    __table_args__ = (sa.Index("ix_studies_worklist_order", sa.desc("study_date"), sa.desc("created_at"),
                               "study_instance_uid"),)
    study_instance_uid: str = Field(primary_key=True, max_length=64)
    patient_pk: int = Field(foreign_key="patients.id", index=True)
    study_date: str = Field(default="", max_length=8)
    study_time: str = Field(default="", max_length=16)
    accession_number: str = Field(default="", max_length=64, index=True)
    study_id: str = Field(default="", max_length=16)
    description: str = Field(default="", max_length=256)
    referring_physician: str = Field(default="", max_length=324)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True), index=True)


class Series(SQLModel, table=True):
    __tablename__ = "series"
    # The worklist's modality filter and per-study modality list (migration 0005).
    __table_args__ = (sa.Index("ix_series_study_modality", "study_instance_uid", "modality"),)
    series_instance_uid: str = Field(primary_key=True, max_length=64)
    study_instance_uid: str = Field(foreign_key="studies.study_instance_uid", index=True, max_length=64)
    modality: str = Field(default="", max_length=16, index=True)
    series_number: int | None = None
    description: str = Field(default="", max_length=256)
    body_part: str = Field(default="", max_length=64)
    view_position: str = Field(default="", max_length=16)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))


class Instance(SQLModel, table=True):
    __tablename__ = "instances"
    sop_instance_uid: str = Field(primary_key=True, max_length=64)
    series_instance_uid: str = Field(foreign_key="series.series_instance_uid", index=True, max_length=64)
    sop_class_uid: str = Field(max_length=64)
    transfer_syntax_uid: str = Field(default="", max_length=64)
    instance_number: int | None = None
    rows: int
    columns: int
    frames: int = 1
    samples_per_pixel: int = 1
    photometric: str = Field(max_length=16)
    bits_allocated: int
    bits_stored: int
    pixel_representation: int = 0
    window_center: float | None = None  # first of a multi-valued window
    window_width: float | None = None
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    sha256: str = Field(max_length=64, index=True)
    path: str = Field(sa_type=sa.Text)  # absolute path of the stored original
    size_bytes: int = Field(sa_type=sa.BigInteger)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))


class IngestEvent(SQLModel, table=True):
    """What ingestion changed: ``stored`` (a new instance) or ``conflict`` (same SOP UID, other bytes).

    Duplicates are a no-op and rejected inputs leave the database untouched, so neither is logged here;
    both are reported to the caller in ``IngestReport``.
    """

    __tablename__ = "ingest_events"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)
    sop_instance_uid: str = Field(max_length=64, index=True)
    sha256: str = Field(max_length=64)
    source: str = Field(default="", sa_type=sa.Text)
    detail: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True), index=True)
