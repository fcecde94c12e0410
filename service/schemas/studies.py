"""Worklist, study detail and upload results."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from medvlm.service.statuses import StudyStatus


class StudyView(BaseModel):
    kind: Literal["frontal", "lateral"]
    view_position: str  # as stated in the DICOM header ("" when not stated)


class StudySummary(BaseModel):
    study_instance_uid: str
    patient_id: str
    patient_name: str
    accession_number: str
    study_date: str
    description: str
    modalities: list[str]
    status: StudyStatus
    critical: bool
    report_id: str | None
    uncertainty: float | None = None  # margin x familiarity (order=uncertainty: smaller first)
    status_reason: str | None = Field(
        default=None, description="Why the study is not_drafted (the intended-use gate's reason) or failed.")
    model_version: str | None = Field(default=None, description="The draft's model version, if drafted.")
    unvalidated_model: bool = Field(
        default=False, description="The draft came from a model not in production (below the floors).")
    views: list[StudyView] = Field(
        default_factory=list, description="The views the gate accepted: the frontal read, a lateral second.")
    outside_intended_use: bool = Field(
        default=False, description="The draft was made outside intended use, at a radiologist's request "
        "(its report's flag of kind intended_use: the review page's banner).")
    unfamiliar_film: bool = Field(
        default=False, description="The draft is on a film unlike the model's training films (its report's "
        "flag of kind unfamiliar_film): read the film without leaning on the draft.")


class WorklistPage(BaseModel):
    items: list[StudySummary]
    total: int
    page: int
    page_size: int


class InstancePublic(BaseModel):
    sop_instance_uid: str
    instance_number: int | None
    rows: int
    columns: int
    frames: int
    window_center: float | None
    window_width: float | None
    photometric: str


class SeriesPublic(BaseModel):
    series_instance_uid: str
    modality: str
    description: str
    instances: list[InstancePublic]


class PatientPublic(BaseModel):
    patient_id: str
    name: str
    birth_date: str
    sex: str


class StudyDetail(BaseModel):
    study_instance_uid: str
    patient: PatientPublic
    study_date: str
    study_time: str
    accession_number: str
    description: str
    referring_physician: str
    status: StudyStatus
    critical: bool
    series: list[SeriesPublic]
    report_id: str | None
    status_reason: str | None = None  # as on the worklist: why not_drafted / failed
    views: list[StudyView] = Field(default_factory=list)  # as on the worklist: the views the gate accepted


class RejectionPublic(BaseModel):
    path: str
    reason: str


class UploadResult(BaseModel):
    ingested: int
    duplicates: int
    conflicts: int
    rejected: list[RejectionPublic]
    study_instance_uids: list[str]
    jobs: list[str]
    conflict_reasons: list[RejectionPublic] = Field(
        default_factory=list, description="Why each conflicting instance was not stored.")
