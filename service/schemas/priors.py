"""Prior studies of a patient, as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class PriorPublic(BaseModel):
    study_instance_uid: str
    study_date: str
    accession_number: str
    description: str
    report_status: str | None
    findings_text: str | None = None
    impression: str | None = None
    signed_by: str | None = None
    signed_at: datetime | None = None


class PriorFetchResult(BaseModel):
    found: list[str]
    retrieved: list[str]
    already_stored: list[str]
    instances: int
