"""The statuses of a report and of a study: the only definition (schemas, workflow, exports, the worklist
filter and, through ``/ui/vocabulary.json``, the UI all use these)."""

from __future__ import annotations

from enum import StrEnum


class ReportStatus(StrEnum):
    """A report's state; the workflow's transition table (``workflow/state.py``) moves between them."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    SIGNED = "signed"


class StudyStatus(StrEnum):
    """A study's place on the worklist, in the order a study usually passes through them."""

    RECEIVED = "received"
    DRAFTING = "drafting"
    DRAFT_READY = "draft_ready"
    IN_REVIEW = "in_review"
    SIGNED = "signed"
    FAILED = "failed"  # a technical failure: the job's attempts are used up (its last error is the reason)
    NOT_DRAFTED = "not_drafted"  # outside intended use: the gate refused it (the reason is shown)
    PRIOR = "prior"  # an earlier study fetched from the PACS for comparison: shown, never drafted


class RetrainStatus(StrEnum):
    """A retraining job's state (``service.jobs.retrain``)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"  # trained and registered; promoted only if asked for and the gate passed
    FAILED = "failed"


# The study status that a report in each state gives its study.
STUDY_STATUS_OF_REPORT: dict[ReportStatus, StudyStatus] = {
    ReportStatus.DRAFT: StudyStatus.DRAFT_READY,
    ReportStatus.IN_REVIEW: StudyStatus.IN_REVIEW,
    ReportStatus.SIGNED: StudyStatus.SIGNED,
}

STUDY_STATUS_LABELS: dict[StudyStatus, str] = {
    StudyStatus.RECEIVED: "Received",
    StudyStatus.DRAFTING: "Drafting",
    StudyStatus.DRAFT_READY: "Draft ready",
    StudyStatus.IN_REVIEW: "In review",
    StudyStatus.SIGNED: "Signed",
    StudyStatus.FAILED: "Failed",
    StudyStatus.NOT_DRAFTED: "Outside intended use",
    StudyStatus.PRIOR: "Prior (comparison)",
}

REPORT_STATUS_LABELS: dict[ReportStatus, str] = {
    ReportStatus.DRAFT: "Unreviewed",
    ReportStatus.IN_REVIEW: "In review",
    ReportStatus.SIGNED: "Signed",
}
