"""What the registry hands out: never the table row itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ModelVersionPublic(BaseModel):
    id: str
    parent: str | None
    preset: str
    status: str
    model_dir: str
    curriculum: str
    curriculum_sha256: str
    data_manifest_sha256: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    stages: list[Any]
    created_at: datetime
    registered_at: datetime
    promoted_at: datetime | None
    retired_at: datetime | None

    model_config = {"from_attributes": True}
