"""The model registry table: one row per trained model version, with what is needed to rebuild it.

A version is rebuilt from its record: the preset and config, the curriculum (path and sha256), the
data manifest's sha256, its parent version and its stages; the metrics decide promotion. At most one
row is ``production`` at a time (a partial unique index enforces it in the database itself).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class VersionStatus(StrEnum):
    CANDIDATE = "candidate"
    PRODUCTION = "production"
    RETIRED = "retired"


class ModelVersion(SQLModel, table=True):
    __tablename__ = "model_versions"

    id: str = Field(primary_key=True, max_length=64)  # the model card's "version"
    parent: str | None = Field(default=None, max_length=64)
    preset: str = Field(max_length=200)
    status: str = Field(default=VersionStatus.CANDIDATE.value, max_length=16, index=True)
    model_dir: str = Field(max_length=1000)
    curriculum: str = Field(default="", max_length=1000)
    curriculum_sha256: str = Field(default="", max_length=64)
    data_manifest_sha256: str = Field(default="", max_length=64)
    config: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    stages: list[Any] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    card_sha256: str = Field(max_length=64)  # the model card as registered, to spot a changed directory
    created_at: datetime  # when the model was trained (from the card)
    registered_at: datetime
    promoted_at: datetime | None = None
    retired_at: datetime | None = None
