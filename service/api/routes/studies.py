"""Worklist, upload, study detail and the study's report (every read of patient data is audited)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import Query, Request, Response
from sqlmodel import select

from medvlm.errors import NotFoundError
from medvlm.service.api.deps import ReportReaderDep, SessionDep, SettingsDep, StudyReaderDep, StudyUploaderDep
from medvlm.service.api.ids import StudyUID
from medvlm.service.api.responses import model_json
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.db.tables import Report
from medvlm.service.errors import InvalidInputError
from medvlm.service.schemas.reports import ReportPublic
from medvlm.service.schemas.studies import (
    StudyDetail,
    UploadResult,
    WorklistPage,
)
from medvlm.service.statuses import StudyStatus
from medvlm.service.studies.access import visible_study
from medvlm.service.studies.detail import study_detail
from medvlm.service.studies.ingest import ingest_upload
from medvlm.service.studies.upload import read_upload
from medvlm.service.studies.worklist_cache import cached_worklist
from medvlm.service.workflow.public import report_public

router = resource_router(prefix="/studies", tags=["studies"])


@router.get("", response_model=WorklistPage)
def list_studies(
    request: Request,
    session: SessionDep,
    caller: StudyReaderDep,
    status: StudyStatus | None = None,
    modality: Annotated[str | None, Query(max_length=16, pattern=r"^[A-Za-z]{1,16}$")] = None,
    date_from: date | None = None,
    date_to: date | None = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    order: Literal["default", "uncertainty"] = "default",
) -> Response:
    if date_from and date_to and date_from > date_to:
        raise InvalidInputError(f"date_from {date_from} is after date_to {date_to}")
    listed, from_cache = cached_worklist(
        session,
        caller,
        request.app.state.worklist_cache,
        status=status,
        modality=modality,
        date_from=date_from,
        date_to=date_to,
        q=q,
        page=page,
        page_size=page_size,
        order=order,
    )
    request.app.state.metrics.worklist_pages.labels("cache" if from_cache else "database").inc()
    audit(
        session,
        actor=caller.actor,
        action="study.list",
        resource_type="worklist",
        resource_id="-",
        detail={"q": q, "status": status, "page": page, "returned": listed.returned},
    )
    return Response(listed.body, media_type="application/json")


@router.post(
    "",
    response_model=UploadResult,
    status_code=202,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["files"],
                        "properties": {
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                        },
                    }
                }
            },
        }
    },
)
async def upload_studies(request: Request, settings: SettingsDep, caller: StudyUploaderDep) -> UploadResult:
    """DICOM files or zips; drafting is queued, never awaited. Its own transactions: see ``ingest_upload``."""
    files = await read_upload(
        request, max_upload_bytes=settings.max_upload_bytes, max_file_bytes=settings.max_file_bytes
    )
    result = await ingest_upload(request.app.state.engine, settings, caller, files)
    if result.jobs:
        request.app.state.wake.set()  # an in-process worker starts at once instead of at its next poll
    return result


@router.get("/{study_uid}", response_model=StudyDetail)
def get_study(study_uid: StudyUID, session: SessionDep, caller: StudyReaderDep) -> Response:
    detail = study_detail(session, caller, study_uid)
    audit(session, actor=caller.actor, action="study.read", resource_type="study", resource_id=study_uid)
    return model_json(detail)


@router.get("/{study_uid}/report", response_model=ReportPublic)
def get_study_report(study_uid: StudyUID, session: SessionDep, caller: ReportReaderDep) -> ReportPublic:
    visible_study(session, caller, study_uid)
    report = session.exec(select(Report).where(Report.study_instance_uid == study_uid)).first()
    if report is None:
        raise NotFoundError(f"study {study_uid} has no report yet (see GET /api/v1/jobs?study_uid=...)")
    audit(session, actor=caller.actor, action="report.read", resource_type="report", resource_id=report.id)
    return report_public(session, report)
