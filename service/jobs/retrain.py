"""An admin's retraining job: export the signed corrections, train from production, gate, (promote).

Queued as a ``RetrainJob`` row by the API and run by a worker process (``service.jobs.retrain_worker``,
one job at a time; training is long and the CPU is shared), writing its progress (stage, step of steps)
to the row and renewing its lease with each write. The work itself is
``medvlm.training.retrain.retrain``, the path ``medvlm corrections retrain`` takes: the production model
changes only when the request asked for promotion and the registry's gate passes. The export, the start,
the candidate and the gate's verdict are each an audit row.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from medvlm.errors import MedVLMError
from medvlm.service.audit import audit
from medvlm.service.db.retrain_tables import RetrainJob
from medvlm.service.db.tables import now_utc
from medvlm.service.statuses import RetrainStatus
from medvlm.settings import Settings

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.5  # progress writes at most this often (a step can take milliseconds)


def _update(engine: Engine, job_id: str, lease: timedelta | None = None, **fields: Any) -> None:
    """Write ``fields`` (and, with ``lease``, renew it from now), unless the job is no longer running."""
    with Session(engine) as session:
        job = session.get(RetrainJob, job_id)
        if job is None or job.status != RetrainStatus.RUNNING.value:  # marked interrupted meanwhile
            return
        for key, value in fields.items():
            setattr(job, key, value)
        job.updated_at = now_utc()
        if lease is not None:
            job.lease_until = job.updated_at + lease
        if fields.get("status") in (RetrainStatus.DONE.value, RetrainStatus.FAILED.value):
            job.lease_until = None
            audit(session, actor=f"worker:{job.worker_id}", action="retrain.finished",
                  resource_type="retrain", resource_id=job_id,
                  detail={"status": fields["status"], "last_error": fields.get("last_error"),
                          "candidate_id": fields.get("candidate_id"), "promoted": fields.get("promoted")})
        session.add(job)
        session.commit()


def workspace(data_dir: Path, work: Path) -> Path:
    """A dataset folder for this job: the training dataset's manifest and images (linked, not copied),
    with the fresh corrections export beside them under ``corrections/`` (where the curriculum reads it)."""
    data = work / "data"
    data.mkdir(parents=True)
    for entry in data_dir.iterdir():
        if entry.name != "corrections":
            (data / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return data


def run_retrain(engine: Engine, settings: Settings, job_id: str,
                lease: timedelta = timedelta(minutes=10)) -> None:
    """The body of a claimed (running) job: never raises; the outcome is in the row and the audit trail."""
    from medvlm.service.exports.corrections import export_corrections
    from medvlm.training.retrain import RetrainOptions, retrain

    with Session(engine) as session:
        job = session.get(RetrainJob, job_id)
        assert job is not None
        data_dir, curriculum = Path(job.data_dir), Path(job.curriculum)
        promote, actor = job.promote, job.requested_by
    _update(engine, job_id, lease, stage="export")
    last = [0.0]

    def progress(stage: str, done: int, steps: int) -> None:
        if done == steps or time.monotonic() - last[0] >= PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            _update(engine, job_id, lease, stage=stage, step=done, steps=steps)

    try:
        work = Path(settings.data_dir) / "retrain" / job_id
        data = workspace(data_dir, work)
        # the same key as GET /corrections, so the pseudonyms of both line up
        exported = export_corrections(data / "corrections", settings.secret_key.encode(), engine=engine,
                                      actor=actor)
        options = RetrainOptions(data, work / "model", actor=actor, curriculum=curriculum, promote=promote,
                                 progress=False, run_id=job_id)
        result = retrain(options, on_step=progress)
    except (MedVLMError, OSError) as exc:
        _update(engine, job_id, status=RetrainStatus.FAILED.value, last_error=str(exc)[:2000],
                finished_at=now_utc())
        return
    except Exception as exc:  # a bug: keep the job honest (failed) and the traceback in the log
        log.exception("retraining job %s failed", job_id)
        _update(engine, job_id, status=RetrainStatus.FAILED.value,
                last_error=f"internal error: {exc!r}"[:2000], finished_at=now_utc())
        return
    _update(engine, job_id, status=RetrainStatus.DONE.value, candidate_id=result.candidate_id,
            promoted=result.promoted, finished_at=now_utc(),
            result={"exported": exported.exported, "base_version": result.base_version,
                    "metrics": result.metrics, "refused": result.refused})
