"""The correction burden per model version (``GET /corrections/burden``), computed by
``medvlm.evaluation.corrections.correction_burden`` from the signed ORIGINAL/FINAL pairs."""

from __future__ import annotations

from pydantic import BaseModel


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
