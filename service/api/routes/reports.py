"""The review workflow over HTTP: edit, regenerate, sign, addenda, versions, exports."""

from __future__ import annotations

from typing import Literal

from fastapi import Request, Response

from medvlm.errors import MedVLMError
from medvlm.service.api.deps import ReportReaderDep, ReportWriterDep, SessionDep
from medvlm.service.api.ids import ReportId
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.errors import DraftingFailedError, ModelUnavailableError
from medvlm.service.exports.context_builder import MEDIA, SUFFIX, build_context, run_export
from medvlm.service.jobs.drafter import NO_MODEL, Drafter
from medvlm.service.jobs.worker import study_paths
from medvlm.service.schemas.reports import (
    AddendumCreate,
    AddendumPublic,
    RegenerateRequest,
    ReportPublic,
    ReportUpdate,
    SignRequest,
    VersionPublic,
)
from medvlm.service.studies.access import visible_report
from medvlm.service.workflow import reports as wf
from medvlm.service.workflow.findings import checked_findings
from medvlm.service.workflow.public import report_public, versions_public
from medvlm.service.workflow.state import Event, next_state

router = resource_router(prefix="/reports", tags=["reports"])


@router.get("/{report_id}", response_model=ReportPublic)
def get_report(report_id: ReportId, session: SessionDep, caller: ReportReaderDep) -> ReportPublic:
    report = visible_report(session, caller, str(report_id))
    audit(session, actor=caller.actor, action="report.read", resource_type="report", resource_id=report.id)
    return report_public(session, report)


@router.put("/{report_id}", response_model=ReportPublic)
def edit_report(
    report_id: ReportId, body: ReportUpdate, session: SessionDep, caller: ReportWriterDep
) -> ReportPublic:
    report = visible_report(session, caller, str(report_id), lock=True)
    findings = None if body.findings is None else [f.to_dict() for f in checked_findings(body.findings)]
    wf.edit(
        session,
        report,
        base_version=body.base_version,
        author=caller.name,
        findings_text=body.findings_text,
        impression=body.impression,
        findings=findings,
    )
    audit(
        session,
        actor=caller.actor,
        action="report.edit",
        resource_type="report",
        resource_id=report.id,
        detail={"version": report.version},
    )
    return report_public(session, report)


@router.post("/{report_id}/regenerate", response_model=ReportPublic)
def regenerate_report(
    report_id: ReportId,
    body: RegenerateRequest,
    request: Request,
    session: SessionDep,
    caller: ReportWriterDep,
) -> ReportPublic:
    report = visible_report(session, caller, str(report_id))
    next_state(report.status, Event.REGENERATE)  # refuse before spending model time
    drafter: Drafter | None = request.app.state.drafter()
    if drafter is None:
        raise ModelUnavailableError(NO_MODEL)
    paths = study_paths(session, report.study_instance_uid)
    findings = checked_findings(body.findings)
    try:
        draft = drafter.draft(paths, findings)
    except MedVLMError:
        raise
    except Exception as exc:  # a crash inside the model becomes a reasoned error, not a bare 500
        raise DraftingFailedError(f"redrafting failed: {type(exc).__name__}: {exc}") from exc
    report = visible_report(session, caller, str(report_id), lock=True)
    wf.regenerate(session, report, draft, base_version=body.base_version, author=caller.name)
    audit(
        session,
        actor=caller.actor,
        action="report.regenerate",
        resource_type="report",
        resource_id=report.id,
        detail={"version": report.version, "model_version": draft.model_version},
    )
    return report_public(session, report)


@router.post("/{report_id}/sign", response_model=ReportPublic)
def sign_report(
    report_id: ReportId, body: SignRequest, session: SessionDep, caller: ReportWriterDep
) -> ReportPublic:
    report = visible_report(session, caller, str(report_id), lock=True)
    wf.sign(session, report, author=caller.name)
    audit(
        session,
        actor=caller.actor,
        action="report.sign",
        resource_type="report",
        resource_id=report.id,
        detail={"version": report.version},
    )
    return report_public(session, report)


@router.post("/{report_id}/addenda", response_model=AddendumPublic, status_code=201)
def add_addendum(
    report_id: ReportId, body: AddendumCreate, session: SessionDep, caller: ReportWriterDep
) -> AddendumPublic:
    report = visible_report(session, caller, str(report_id), lock=True)
    addendum = wf.add_addendum(session, report, text=body.text, author=caller.name)
    audit(
        session,
        actor=caller.actor,
        action="report.addendum",
        resource_type="report",
        resource_id=report.id,
        detail={"addendum_id": addendum.id},
    )
    return AddendumPublic(text=addendum.text, author=addendum.author, created_at=addendum.created_at)


@router.get("/{report_id}/versions", response_model=list[VersionPublic])
def list_versions(report_id: ReportId, session: SessionDep, caller: ReportReaderDep) -> list[VersionPublic]:
    report = visible_report(session, caller, str(report_id))
    audit(
        session, actor=caller.actor, action="report.versions", resource_type="report", resource_id=report.id
    )
    return versions_public(session, report.id)


@router.get(
    "/{report_id}/export/{kind}",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA.values()}}},
)
def export_report(
    report_id: ReportId,
    kind: Literal["pdf", "sr", "encapsulated-pdf", "fhir", "tid1500", "fhir-imagingstudy"],
    session: SessionDep,
    caller: ReportReaderDep,
) -> Response:
    report = visible_report(session, caller, str(report_id))
    data = run_export(kind, build_context(session, report))
    audit(
        session,
        actor=caller.actor,
        action="report.export",
        resource_type="report",
        resource_id=report.id,
        detail={"kind": kind, "status": report.status, "bytes": len(data)},
    )
    filename = f"report-{report.id}.{SUFFIX[kind]}"
    return Response(
        data, media_type=MEDIA[kind], headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
