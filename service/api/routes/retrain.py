"""Retraining from clinicians' corrections, for an admin: queue a job, follow its progress.

The job (``service.jobs.retrain``) exports the signed corrections, trains the corrections curriculum
from the production model and registers the candidate; production changes only when ``promote`` was
asked for and the registry's gate passes. One job at a time, queued in the database and run by a
retraining worker (``service.jobs.retrain_worker``), so it survives an API restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Query
from sqlmodel import select

from medvlm.errors import CurriculumError, NotFoundError
from medvlm.package_data import CORRECTIONS_CURRICULUM
from medvlm.service.api.deps import AdminDep, SessionDep
from medvlm.service.api.ids import JobId
from medvlm.service.api.routing import resource_router
from medvlm.service.audit import audit
from medvlm.service.db.retrain_tables import RetrainJob
from medvlm.service.db.tables import utc
from medvlm.service.errors import ConflictError, InvalidInputError
from medvlm.service.schemas.corrections import RetrainCreate, RetrainJobPublic
from medvlm.service.statuses import RetrainStatus

router = resource_router(prefix="/retrain", tags=["retrain"])
ACTIVE = (RetrainStatus.QUEUED.value, RetrainStatus.RUNNING.value)


def _public(job: RetrainJob) -> RetrainJobPublic:
    data = job.model_dump()
    done = job.status == RetrainStatus.DONE.value
    percent = 100.0 if done else round(100.0 * job.step / job.steps, 1) if job.steps else 0.0
    data.update(created_at=utc(job.created_at), updated_at=utc(job.updated_at),
                finished_at=utc(job.finished_at), started_at=utc(job.started_at), result=job.result or {},
                percent=percent)
    return RetrainJobPublic.model_validate(data)


def _checked(body: RetrainCreate) -> tuple[Path, Path]:
    """The dataset and curriculum paths, refused with the reason before any job exists."""
    from medvlm.curriculum import load_curriculum

    data = Path(body.data_dir)
    if not (data / "manifest.jsonl").is_file():
        raise InvalidInputError(f"data_dir {data} holds no manifest.jsonl (a `medvlm data build` dataset)")
    curriculum = Path(body.curriculum) if body.curriculum else CORRECTIONS_CURRICULUM
    try:
        loaded = load_curriculum(curriculum)
    except CurriculumError as exc:
        raise InvalidInputError(f"curriculum: {exc}") from None
    if not any(stage.kind == "corrections" for stage in loaded.curriculum.stages):
        raise InvalidInputError(f"curriculum {curriculum} has no corrections stage")
    return data.resolve(), loaded.path


@router.post("", response_model=RetrainJobPublic, status_code=202)
def queue_retrain(
    body: RetrainCreate, session: SessionDep, caller: AdminDep
) -> RetrainJobPublic:
    data, curriculum = _checked(body)
    running = session.exec(select(RetrainJob).where(RetrainJob.status.in_(ACTIVE))).first()  # type: ignore[attr-defined]
    if running is not None:
        raise ConflictError(f"retraining job {running.id} is still {running.status}; one runs at a time")
    job = RetrainJob(requested_by=caller.actor, data_dir=str(data), curriculum=str(curriculum),
                     promote=body.promote)
    session.add(job)
    audit(session, actor=caller.actor, action="retrain.requested", resource_type="retrain",
          resource_id=job.id,
          detail={"data_dir": str(data), "curriculum": str(curriculum), "promote": body.promote})
    session.commit()  # queued: a retraining worker (the worker process, or `medvlm serve`) claims it
    return _public(job)


@router.get("", response_model=list[RetrainJobPublic])
def list_retrain_jobs(
    session: SessionDep, caller: AdminDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[RetrainJobPublic]:
    rows = session.exec(select(RetrainJob).order_by(RetrainJob.created_at.desc()).limit(limit)).all()  # type: ignore[attr-defined]
    return [_public(j) for j in rows]


@router.get("/{job_id}", response_model=RetrainJobPublic)
def get_retrain_job(job_id: JobId, session: SessionDep, caller: AdminDep) -> RetrainJobPublic:
    job = session.get(RetrainJob, str(job_id))
    if job is None:
        raise NotFoundError(f"retraining job {job_id} not found")
    return _public(job)
