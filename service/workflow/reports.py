"""Applying workflow events to the database: every change is a new ``ReportVersion`` row.

Each function runs inside the caller's transaction, locks the report row (``FOR UPDATE`` on
PostgreSQL; SQLite serialises writers anyway), checks the event against ``state.TRANSITIONS``, writes,
and keeps the study's worklist status in step. Two edits racing from the same ``base_version`` cannot
both win: the loser gets 409 from the version check or from the (report_id, version) unique key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from medvlm.errors import NotFoundError
from medvlm.findings import Finding
from medvlm.service.db.tables import Addendum, Report, ReportVersion, StudyState, now_utc
from medvlm.service.errors import ConflictError
from medvlm.service.hl7 import outbox as hl7_outbox
from medvlm.service.statuses import STUDY_STATUS_OF_REPORT, StudyStatus
from medvlm.service.workflow.draft_output import DraftOutput, keeping_film_flags
from medvlm.service.workflow.state import Event, ReportState, next_state


def _critical(findings: list[dict[str, Any]]) -> bool:
    # Each stored finding's flag was set by medvlm.findings.critical_rule (absent ones are never critical).
    return any(f.get("critical") for f in findings)


def set_study_status(session: Session, study_uid: str, status: str, critical: bool | None = None, *,
                     reason: str | None = None) -> None:
    """Move the study's worklist status; ``reason`` says why (not_drafted, failed) and goes with it."""
    state = session.get(StudyState, study_uid) or StudyState(study_instance_uid=study_uid)
    state.status = status
    state.status_reason = reason
    if critical is not None:
        state.critical = critical
    state.updated_at = now_utc()
    session.add(state)


def lock_report(session: Session, report_id: str) -> Report:
    report = session.exec(select(Report).where(Report.id == report_id).with_for_update()).first()
    if report is None:
        raise NotFoundError(f"report {report_id} not found")
    return report


def _new_version(session: Session, report: Report, kind: str, author: str) -> None:
    report.version += 1
    report.updated_at = now_utc()
    session.add(report)
    session.add(
        ReportVersion(
            report_id=report.id,
            version=report.version,
            kind=kind,
            findings=report.findings,
            findings_text=report.findings_text,
            impression=report.impression,
            author=author,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError(f"report {report.id} was changed concurrently; reload and retry") from None


def save_draft(session: Session, study_uid: str, draft: DraftOutput, author: str) -> Report:
    """Store a model draft (ORIGINAL). A study keeps one report; an untouched draft is replaced."""
    findings = [f.to_dict() for f in draft.findings]
    text = {"findings": findings, "findings_text": draft.findings_text, "impression": draft.impression}
    report = session.exec(
        select(Report).where(Report.study_instance_uid == study_uid).with_for_update()
    ).first()
    if report is None:
        report = Report(study_instance_uid=study_uid, version=0)
    else:
        next_state(report.status, Event.REDRAFT)
    report.status = ReportState.DRAFT.value
    report.findings, report.findings_text, report.impression = findings, draft.findings_text, draft.impression
    report.original = text
    report.model_version = draft.model_version
    report.consistency_flags = draft.consistency_flags
    report.input_hashes = draft.input_hashes
    _new_version(session, report, "ORIGINAL", author)
    set_study_status(session, study_uid, StudyStatus.DRAFT_READY, critical=_critical(findings))
    state = session.get(StudyState, study_uid)
    if state is not None:  # the worklist's order=uncertainty key (set_study_status has just added it)
        state.uncertainty = draft.uncertainty
        state.views = list(draft.views) or None
    return report


def recheck_consistency(report: Report) -> None:
    """Run the labeler over the edited text against the edited findings (the hallucination guard, again)."""
    from medvlm.inference import check_consistency

    findings = [Finding.from_dict(f) for f in report.findings]
    flags = check_consistency(findings, report.findings_text, report.impression)
    # how the draft came about and what the film is stay: the intended-use override's and the unfamiliar
    # film's flags are no guard's findings
    report.consistency_flags = keeping_film_flags(report.consistency_flags, [f.to_dict() for f in flags])


def _check_base(report: Report, base_version: int | None) -> None:
    if base_version is not None and base_version != report.version:
        raise ConflictError(
            f"report {report.id} is at version {report.version}, the edit was based on "
            f"version {base_version}; reload and reapply the change"
        )


def edit(
    session: Session,
    report: Report,
    *,
    base_version: int,
    author: str,
    findings_text: str | None,
    impression: str | None,
    findings: list[dict[str, Any]] | None,
) -> Report:
    new_state = next_state(report.status, Event.EDIT)
    _check_base(report, base_version)
    if findings_text is not None:
        report.findings_text = findings_text
    if impression is not None:
        report.impression = impression
    if findings is not None:
        report.findings = findings
    report.status = new_state.value
    recheck_consistency(report)
    _new_version(session, report, "EDIT", author)
    study_status = STUDY_STATUS_OF_REPORT[new_state]
    set_study_status(session, report.study_instance_uid, study_status, _critical(report.findings))
    return report


def regenerate(
    session: Session, report: Report, draft: DraftOutput, *, base_version: int | None, author: str
) -> Report:
    """Text redrafted from clinician-edited findings: their findings, the model's words."""
    new_state = next_state(report.status, Event.REGENERATE)
    _check_base(report, base_version)
    report.findings = [f.to_dict() for f in draft.findings]
    report.findings_text, report.impression = draft.findings_text, draft.impression
    report.consistency_flags = keeping_film_flags(report.consistency_flags, draft.consistency_flags)
    report.status = new_state.value
    _new_version(session, report, "REGENERATED", author)
    study_status = STUDY_STATUS_OF_REPORT[new_state]
    set_study_status(session, report.study_instance_uid, study_status, _critical(report.findings))
    return report


def sign(session: Session, report: Report, *, author: str) -> Report:
    new_state = next_state(report.status, Event.SIGN)
    report.status = new_state.value
    report.signed_by = author
    report.signed_at = now_utc()
    _new_version(session, report, "FINAL", author)
    set_study_status(session, report.study_instance_uid, StudyStatus.SIGNED, _critical(report.findings))
    hl7_outbox.enqueue(session, report, "signed")  # the ORU^R01 commits with the signature, or neither
    return report


def add_addendum(session: Session, report: Report, *, text: str, author: str) -> Addendum:
    next_state(report.status, Event.ADDENDUM)
    addendum = Addendum(report_id=report.id, text=text, author=author)
    report.updated_at = now_utc()
    session.add(report)
    session.add(addendum)
    session.flush()
    hl7_outbox.enqueue(session, report, "addendum")
    return addendum
