"""The retraining queue: ``RetrainJob`` rows, claimed by one worker at a time under a lease.

The same mechanism as the draft queue (``service.jobs.queue``): the oldest queued job is taken with
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL and a conditional update (so a job never runs twice,
on SQLite either); the running worker renews its lease with every progress write.

A job whose worker stopped (a restart, a crash: its lease ran out) is marked failed with that reason, not
resumed. Why: its checkpoints and its corrections export belong to the dead run, and the signed
corrections may have changed since, so a resumed run's provenance (the data it trained on) would be a
guess; failing says exactly what happened, the production model was never touched (promotion comes only
after the gate, at the end), and the admin queues the job again in one request.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from medvlm.service.audit import audit
from medvlm.service.db.retrain_tables import RetrainJob
from medvlm.service.db.tables import now_utc
from medvlm.service.statuses import RetrainStatus

QUEUED, RUNNING, FAILED = RetrainStatus.QUEUED.value, RetrainStatus.RUNNING.value, RetrainStatus.FAILED.value


def interrupted_reason(job: RetrainJob) -> str:
    where = f"stage {job.stage}, step {job.step} of {job.steps}" if job.stage else "before its first stage"
    return (f"interrupted: its worker {job.worker_id or '?'} stopped (a restart?) at {where}; the production "
            "model is unchanged; queue the job again")


def fail_interrupted(engine: Engine, *, all_running: bool = False) -> list[str]:
    """Mark running jobs whose lease ran out (every running job with ``all_running``: a single worker's
    start, when nothing else can be running them) failed with the reason, audited; their ids."""
    with Session(engine) as session:
        stmt = select(RetrainJob).where(col(RetrainJob.status) == RUNNING)
        if not all_running:
            stmt = stmt.where(col(RetrainJob.lease_until) < now_utc())
        jobs = session.exec(stmt.with_for_update(skip_locked=True)).all()
        for job in jobs:
            reason = interrupted_reason(job)
            job.status, job.last_error = FAILED, reason
            job.finished_at = job.updated_at = now_utc()
            job.lease_until = None
            session.add(job)
            audit(session, actor="worker:retrain", action="retrain.interrupted", resource_type="retrain",
                  resource_id=job.id, detail={"reason": reason, "stage": job.stage, "step": job.step,
                                              "steps": job.steps})
        session.commit()
        return [job.id for job in jobs]


def claim_retrain(engine: Engine, worker_id: str, lease: timedelta) -> RetrainJob | None:
    """Take the oldest queued job (committed at once, audited ``retrain.claimed``), or None."""
    with Session(engine, expire_on_commit=False) as session:
        job = session.exec(
            select(RetrainJob).where(col(RetrainJob.status) == QUEUED).order_by(col(RetrainJob.created_at))
            .limit(1).with_for_update(skip_locked=True)
        ).first()
        if job is None:
            return None
        now = now_utc()
        taken = session.execute(
            update(RetrainJob)
            .where(col(RetrainJob.id) == job.id, col(RetrainJob.status) == QUEUED)
            .values(status=RUNNING, worker_id=worker_id, lease_until=now + lease, started_at=now,
                    updated_at=now)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return None
        audit(session, actor=f"worker:{worker_id}", action="retrain.claimed", resource_type="retrain",
              resource_id=job.id, detail={"worker_id": worker_id})
        session.commit()
        session.refresh(job)
        return job
