"""Draft jobs and their state (integration keys see only the jobs of studies they sent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlmodel import select

from medvlm.service.api.deps import JobReaderDep, SessionDep
from medvlm.service.api.ids import UID_PATTERN, JobId
from medvlm.service.api.routing import resource_router
from medvlm.service.db.tables import DraftJob, StudyState, utc
from medvlm.service.schemas.reports import JobPublic
from medvlm.service.studies.access import visibility_conditions, visible_job

router = resource_router(prefix="/jobs", tags=["jobs"])


def job_public(job: DraftJob) -> JobPublic:
    return JobPublic(
        id=job.id,
        study_instance_uid=job.study_instance_uid,
        status=job.status,  # type: ignore[arg-type]
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        last_error=job.last_error,
        report_id=job.report_id,
        created_at=utc(job.created_at),  # type: ignore[arg-type]
        updated_at=utc(job.updated_at),
        finished_at=utc(job.finished_at),
    )  # type: ignore[arg-type]


@router.get("", response_model=list[JobPublic])
def list_jobs(
    session: SessionDep,
    caller: JobReaderDep,
    study_uid: Annotated[str | None, Query(max_length=64, pattern=UID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobPublic]:
    stmt = select(DraftJob)
    if study_uid:
        stmt = stmt.where(DraftJob.study_instance_uid == study_uid)
    visible = visibility_conditions(caller)
    if visible:
        on_study = StudyState.study_instance_uid == DraftJob.study_instance_uid
        stmt = stmt.join(StudyState, on_study).where(*visible)  # type: ignore[arg-type]
    rows = session.exec(stmt.order_by(DraftJob.created_at.desc()).limit(limit)).all()  # type: ignore[attr-defined]
    return [job_public(j) for j in rows]


@router.get("/{job_id}", response_model=JobPublic)
def get_job(job_id: JobId, session: SessionDep, caller: JobReaderDep) -> JobPublic:
    return job_public(visible_job(session, caller, str(job_id)))
