"""Path parameters with their formats: a malformed id is a 422 before any lookup."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path

UID_PATTERN = r"^[0-9]+(\.[0-9]+)*$"  # DICOM UI: digits and dots, at most 64 characters

StudyUID = Annotated[str, Path(max_length=64, pattern=UID_PATTERN, description="Study Instance UID")]
SeriesUID = Annotated[str, Path(max_length=64, pattern=UID_PATTERN, description="Series Instance UID")]
SopUID = Annotated[str, Path(max_length=64, pattern=UID_PATTERN, description="SOP Instance UID")]
ReportId = Annotated[uuid.UUID, Path(description="Report id (UUID)")]
JobId = Annotated[uuid.UUID, Path(description="Job id (UUID)")]
UserId = Annotated[uuid.UUID, Path(description="User id (UUID)")]
ApiKeyId = Annotated[uuid.UUID, Path(description="API key id (UUID)")]
