"""Reports, versions, addenda, corrections and draft jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medvlm.findings import Finding
from medvlm.service.statuses import ReportStatus


class Strict(BaseModel):
    """Request bodies: an unknown key is a mistake worth a 422, not something to drop silently."""

    model_config = ConfigDict(extra="forbid")


class FindingModel(Strict):
    """``medvlm.findings.Finding`` on the wire."""

    label: str = Field(min_length=1, max_length=64)
    presence: Literal["present", "absent", "uncertain"] = "present"
    laterality: Literal["left", "right", "bilateral"] | None = None
    severity: str | None = Field(default=None, max_length=32)
    location: str | None = Field(default=None, max_length=64)
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)  # the model calls it present at >= this
    critical: bool = False
    change: str | None = Field(default=None, max_length=32)
    evidence: str | None = Field(default=None, max_length=2000)

    def to_finding(self) -> Finding:
        return Finding.from_dict(self.model_dump(exclude_none=True))


class ConsistencyFlagPublic(BaseModel):
    label: str
    kind: str
    message: str
    sentence: str | None = None


class DraftText(BaseModel):
    findings: list[FindingModel]
    findings_text: str
    impression: str


class AddendumPublic(BaseModel):
    text: str
    author: str
    created_at: datetime


class ReportPublic(BaseModel):
    id: str
    study_instance_uid: str
    status: ReportStatus
    findings: list[FindingModel]
    findings_text: str
    impression: str
    original: DraftText
    model_version: str
    consistency_flags: list[ConsistencyFlagPublic]
    version: int
    signed_by: str | None
    signed_at: datetime | None
    addenda: list[AddendumPublic]
    updated_at: datetime


class ReportUpdate(Strict):
    base_version: int = Field(ge=1, le=2**31 - 1,
                              description="The version this edit starts from; stale -> 409.")
    findings_text: str | None = Field(default=None, max_length=20_000)
    impression: str | None = Field(default=None, max_length=20_000)
    findings: list[FindingModel] | None = Field(default=None, max_length=200)


class RegenerateRequest(Strict):
    findings: list[FindingModel] = Field(max_length=200)
    base_version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class SignRequest(Strict):
    confirm: bool

    @field_validator("confirm")
    @classmethod
    def _must_confirm(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("signing needs an explicit confirm: true")
        return value


class AddendumCreate(Strict):
    text: str = Field(min_length=1, max_length=20_000)


class VersionPublic(BaseModel):
    version: int
    kind: Literal["ORIGINAL", "EDIT", "REGENERATED", "FINAL"]
    findings: list[FindingModel]
    findings_text: str
    impression: str
    author: str
    created_at: datetime


class CorrectionPair(BaseModel):
    """A signed report as training data: what the model drafted (ORIGINAL) and what was signed (FINAL)."""

    report_id: str = Field(description="A keyed pseudonym of the report (not its id in the service).")
    study_instance_uid: str = Field(description="A keyed pseudonymous UID (2.25.x), not the real one.")
    model_version: str
    signed_month: str = Field(description="The month the report was signed (YYYY-MM): dates of care "
                              "are not handed to research.")
    original: DraftText
    final: DraftText
    changed: bool


class CorrectionsPage(BaseModel):
    items: list[CorrectionPair]
    total: int
    page: int
    page_size: int


class JobPublic(BaseModel):
    id: str
    study_instance_uid: str
    status: Literal["queued", "running", "done", "failed"]
    attempts: int
    max_attempts: int
    last_error: str | None
    report_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def findings_out(items: list[dict[str, Any]]) -> list[FindingModel]:
    known = set(FindingModel.model_fields)
    return [FindingModel(**{k: v for k, v in item.items() if k in known}) for item in items]
