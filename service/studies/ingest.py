"""From uploaded files to stored instances and queued draft jobs, through the one intake function.

Each file is ingested by ``medvlm.service.intake`` (its batches commit with the sender's key and audit
rows); afterwards one transaction queues the draft jobs. The model is never called here: the response
returns as soon as the jobs are queued. Uploaded files are read from their spooled copies
(a zip member by member) and removed afterwards.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from medvlm.service.auth.principal import Principal
from medvlm.service.errors import ConflictError, InvalidInputError
from medvlm.service.intake.intake import Actor, Item, intake, queue_drafts
from medvlm.service.schemas.studies import RejectionPublic, UploadResult
from medvlm.service.studies.upload import UploadedFile
from medvlm.settings import Settings


def _ingest_all(settings: Settings, actor: Actor, files: list[UploadedFile]) -> tuple[UploadResult, set[str]]:
    result = UploadResult(ingested=0, duplicates=0, conflicts=0, rejected=[], study_instance_uids=[], jobs=[])
    new: set[str] = set()
    for f in files:
        report = intake(settings, actor, Item(f.name, path=f.path))
        result.ingested += report.ingested
        result.duplicates += report.duplicates
        result.conflicts += report.conflicts
        result.rejected += [RejectionPublic(path=r.path, reason=r.reason) for r in report.rejected]
        result.conflict_reasons += [RejectionPublic(path=r.path, reason=r.reason)
                                    for r in report.conflict_reasons]
        studies = result.study_instance_uids
        studies += [u for u in report.study_instance_uids if u not in studies]
        new |= set(report.new_study_instance_uids)
    return result, new


async def ingest_upload(
    engine: Engine, settings: Settings, caller: Principal, files: list[UploadedFile]
) -> UploadResult:
    actor = Actor(caller.actor, "upload", api_key_id=caller.api_key_id)
    try:
        result, new = await run_in_threadpool(_ingest_all, settings, actor, files)
    finally:
        for f in files:
            f.discard()
    if not result.study_instance_uids:
        if result.conflicts and not result.rejected:
            reasons = "; ".join(f"{r.path}: {r.reason}" for r in result.conflict_reasons[:5])
            raise ConflictError(f"nothing ingested, every instance conflicts with what is stored: {reasons}")
        problems = [*result.conflict_reasons, *result.rejected]
        reasons = "; ".join(f"{r.path}: {r.reason}" for r in problems[:5]) or "no DICOM instances found"
        raise InvalidInputError(f"nothing ingested from {len(files)} file(s): {reasons}")
    jobs = await run_in_threadpool(queue_drafts, engine, settings, result.study_instance_uids, new)
    return result.model_copy(update={"jobs": jobs})
