"""From uploaded files to stored instances and queued draft jobs.

``ingest_file`` stores each file atomically in its own transaction (a rejected file writes nothing);
afterwards one transaction records which API key sent each study, queues its draft job and writes the
audit row.
The model is never called here: the response returns as soon as the jobs are queued.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from medvlm.service.api.deps import Principal
from medvlm.service.audit import audit
from medvlm.service.db.tables import Report, StudyState
from medvlm.service.errors import InvalidInputError
from medvlm.service.jobs.queue import enqueue
from medvlm.service.schemas.studies import RejectionPublic, UploadResult
from medvlm.service.studies.upload import UploadedFile
from medvlm.settings import Settings


def _ingest_all(settings: Settings, files: list[UploadedFile]) -> tuple[int, int, int, list, list[str]]:
    from medvlm.dicom.ingest import ingest_file

    ingested = duplicates = conflicts = 0
    rejected: list[RejectionPublic] = []
    study_uids: list[str] = []
    for f in files:
        result = ingest_file(f.name, f.path, settings=settings)
        ingested += result.ingested
        duplicates += result.duplicates
        conflicts += result.conflicts
        rejected += [RejectionPublic(path=str(r.path), reason=str(r.reason)) for r in result.rejected]
        study_uids += [u for u in result.study_instance_uids if u not in study_uids]
    return ingested, duplicates, conflicts, rejected, study_uids


async def ingest_upload(
    engine: Engine, settings: Settings, caller: Principal, files: list[UploadedFile]
) -> UploadResult:
    try:
        ingested, duplicates, conflicts, rejected, study_uids = await run_in_threadpool(
            _ingest_all, settings, files
        )
    finally:
        for f in files:
            f.discard()
    if not study_uids:
        reasons = "; ".join(f"{r.path}: {r.reason}" for r in rejected[:5]) or "no DICOM instances found"
        raise InvalidInputError(f"nothing ingested from {len(files)} file(s): {reasons}")
    return await run_in_threadpool(
        queue_jobs,
        engine,
        settings,
        caller,
        study_uids,
        UploadResult(
            ingested=ingested,
            duplicates=duplicates,
            conflicts=conflicts,
            rejected=rejected,
            study_instance_uids=study_uids,
            jobs=[],
        ),
    )


def queue_jobs(
    engine: Engine, settings: Settings, caller: Principal, study_uids: list[str], result: UploadResult
) -> UploadResult:
    jobs: list[str] = []
    with Session(engine, expire_on_commit=False) as session:
        for uid in study_uids:
            # The row exists (a trigger adds it when the study is indexed); the first API key to send the
            # study owns it: an integration sees the studies it sent.
            state = session.get(StudyState, uid)
            if state is not None and state.source_api_key_id is None and caller.api_key_id is not None:
                state.source_api_key_id = caller.api_key_id
                session.add(state)
                session.flush()
            report = session.exec(select(Report).where(Report.study_instance_uid == uid)).first()
            # New images in an untouched draft call for a new draft; a pure re-send does not.
            if report is None or (report.status == "draft" and result.ingested > 0):
                job = enqueue(session, uid, max_attempts=settings.job_max_attempts)
                if job is not None:
                    jobs.append(job.id)
            audit(
                session,
                actor=caller.actor,
                action="study.upload",
                resource_type="study",
                resource_id=uid,
                detail={"ingested": result.ingested, "duplicates": result.duplicates},
            )
        session.commit()
    return result.model_copy(update={"jobs": jobs})
