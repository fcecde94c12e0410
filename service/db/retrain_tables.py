"""Retraining jobs (migrations 0012, 0014): one row per admin request, its progress, lease and outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from medvlm.service.db.tables import new_id, now_utc


class RetrainJob(SQLModel, table=True):
    __tablename__ = "service_retrain_jobs"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    status: str = Field(default="queued", max_length=16, index=True)  # statuses.RetrainStatus
    requested_by: str = Field(max_length=255)
    data_dir: str = Field(sa_type=sa.Text)
    curriculum: str = Field(sa_type=sa.Text)
    promote: bool = False
    stage: str | None = Field(default=None, max_length=64)  # progress: the stage running, its step
    step: int = 0
    steps: int = 0
    candidate_id: str | None = Field(default=None, max_length=128)
    promoted: bool = False
    result: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=now_utc, sa_type=sa.DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # the queue (migration 0014): the worker running it and how long its lease holds (renewed on progress)
    worker_id: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    started_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
