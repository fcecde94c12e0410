"""The correction burden per model version (``GET /corrections/burden``), computed by
``medvlm.evaluation.corrections.correction_burden`` from the signed ORIGINAL/FINAL pairs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FindingBurden(BaseModel):
    label: str
    drafted: int  # signed reports whose draft stated the finding (present or uncertain)
    accepted: int  # ... and the signed report kept it in the same state
    acceptance_rate: float | None  # accepted / drafted (None when never drafted)
    added: int  # the clinician added it (the draft did not state it)
    removed: int  # the clinician removed it
    changed: int  # kept, with another side / severity / certainty


class TextEditDistance(BaseModel):
    mean_words: float  # word-level Levenshtein distance, draft -> signed (findings + impression)
    median_words: float
    mean_per_word: float  # the distance over the longer text's words


class VersionBurden(BaseModel):
    model_version: str
    reports: int
    unchanged_rate: float | None  # signed exactly as drafted (text and findings)
    text_edit_distance: TextEditDistance
    findings: list[FindingBurden]


class CorrectionBurden(BaseModel):
    versions: list[VersionBurden]


class RetrainCreate(BaseModel):
    """``POST /retrain``: paths on the server (an admin's request; the service reads nothing else)."""

    model_config = ConfigDict(extra="forbid")

    data_dir: str = Field(min_length=1, max_length=4096)  # the training dataset (replay + validation)
    curriculum: str | None = Field(default=None, max_length=4096)  # default: curricula/corrections.yaml
    promote: bool = False  # promote the candidate if the registry's gate passes


class RetrainJobPublic(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    requested_by: str
    promote: bool
    stage: str | None
    step: int
    steps: int
    percent: float = Field(description="Of the running stage's steps (100 once done).")
    worker_id: str | None = None
    started_at: datetime | None = None
    candidate_id: str | None
    promoted: bool
    result: dict[str, Any]
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
