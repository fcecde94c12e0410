"""Service tables: users, sessions, API keys, study states, worklist version, draft jobs, reports, report
versions, addenda.

Studies are referenced by their DICOM Study Instance UID (a plain indexed column, not a foreign key):
the DICOM index (``medvlm.db.models``) belongs to the ingest module and may be re-indexed on its own.
Times are stored timezone-aware in UTC; SQLite hands them back naive, so readers go through ``utc()``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, overload

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def now_utc() -> datetime:
    return datetime.now(UTC)


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: datetime | None) -> datetime | None: ...
def utc(value: datetime | None) -> datetime | None:
    """Treat a naive time from SQLite as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class User(SQLModel, table=True):
    __tablename__ = "service_users"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))


class UserSession(SQLModel, table=True):
    """One login; the JWT carries its id, so logout and idle expiry are decided here."""

    __tablename__ = "service_sessions"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(foreign_key="service_users.id", index=True, max_length=36)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    last_seen_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    ended_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class ApiKey(SQLModel, table=True):
    __tablename__ = "service_api_keys"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=128)
    key_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    created_by: str = Field(foreign_key="service_users.id", max_length=36)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


_WORKLIST_ORDER: tuple[Any, ...] = (
    sa.desc("critical"),
    sa.desc("study_date"),
    sa.desc("study_created_at"),
    "study_instance_uid",
)


class StudyState(SQLModel, table=True):
    """Workflow status of a study, who may see it, and the worklist's sort keys: one row per study.

    A trigger on ``studies`` (migration 0007) creates the row when a study is indexed, by the service or
    not, and keeps ``study_date`` / ``study_created_at`` equal to the study's, so that a worklist page is
    read from one index in the worklist's order instead of sorting every study.
    """

    __tablename__ = "service_study_states"
    __table_args__ = (
        # ``status`` last: every page returns it, so the page is read from the index alone (0008).
        sa.Index("ix_study_states_worklist", *_WORKLIST_ORDER, "status"),
        sa.Index("ix_study_states_worklist_status", "status", *_WORKLIST_ORDER),
    )
    study_instance_uid: str = Field(primary_key=True, max_length=64)
    status: str = Field(default="received", max_length=16, index=True)
    critical: bool = Field(default=False, index=True)
    source_api_key_id: str | None = Field(default=None, max_length=36, index=True)
    updated_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    study_date: str = Field(default="", max_length=8, sa_column_kwargs={"server_default": ""})
    study_created_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # the draft's review priority, margin x familiarity (order=uncertainty: smaller first; migration 0011)
    uncertainty: float | None = Field(default=None, index=True)
    # why the study is not_drafted (the intended-use gate's reason) or failed (the job's last error); 0013
    status_reason: str | None = Field(default=None, sa_type=sa.Text)
    # the views the gate accepted, [{kind: frontal|lateral, view_position}] (a lateral: the second view)
    views: list[dict[str, str]] | None = Field(default=None, sa_type=sa.JSON)


class WorklistVersion(SQLModel, table=True):
    """One row whose ``n`` moves in the same commit as any change a worklist page shows.

    Database triggers move it (migration 0009), whoever writes; ``service.studies.worklist_cache`` keeps
    pages under the number it read, so a page is reused only while nothing on it can have changed.
    """

    __tablename__ = "service_worklist_version"
    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    n: int = Field(default=0, sa_type=sa.BigInteger)


class DraftJob(SQLModel, table=True):
    __tablename__ = "service_draft_jobs"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    study_instance_uid: str = Field(max_length=64, index=True)
    status: str = Field(default="queued", max_length=16, index=True)  # queued|running|done|failed
    attempts: int = 0
    max_attempts: int = 3
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    worker_id: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    report_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True), index=True)
    updated_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class Report(SQLModel, table=True):
    """The current state of a study's report; every change is also a ``ReportVersion`` row."""

    __tablename__ = "service_reports"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    study_instance_uid: str = Field(max_length=64, unique=True, index=True)
    status: str = Field(default="draft", max_length=16)  # draft|in_review|signed
    version: int = 1
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    findings_text: str = Field(default="", sa_type=sa.Text)
    impression: str = Field(default="", sa_type=sa.Text)
    original: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # the model's ORIGINAL draft
    model_version: str = Field(default="", max_length=128)
    consistency_flags: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    input_hashes: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    signed_by: str | None = Field(default=None, max_length=64)
    signed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))


class ReportVersion(SQLModel, table=True):
    __tablename__ = "service_report_versions"
    __table_args__ = (sa.UniqueConstraint("report_id", "version", name="uq_report_version"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    report_id: str = Field(foreign_key="service_reports.id", index=True, max_length=36)
    version: int
    kind: str = Field(max_length=16)  # ORIGINAL | EDIT | REGENERATED | FINAL
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    findings_text: str = Field(default="", sa_type=sa.Text)
    impression: str = Field(default="", sa_type=sa.Text)
    author: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))


class Addendum(SQLModel, table=True):
    __tablename__ = "service_addenda"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    report_id: str = Field(foreign_key="service_reports.id", index=True, max_length=36)
    text: str = Field(sa_type=sa.Text)
    author: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
