"""The draft-job queue, kept in the database so that it survives restarts and can be shared by workers.

Claiming picks the oldest job that is queued, or running with an expired lease (its worker died), with
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL so concurrent workers never take the same job. The
update is also conditional on the row being unchanged, so even on SQLite (one worker, but possibly a
restarted one) a job is never run twice at once. Each claim counts as an attempt; past ``max_attempts``
a job fails for good with its last reason.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from medvlm.service.db.tables import DraftJob, Report, now_utc
from medvlm.service.statuses import StudyStatus
from medvlm.service.workflow.reports import set_study_status

ACTIVE = ("queued", "running")
JOB_STATUSES = (*ACTIVE, "done", "failed")
JOBS_CHANNEL = "medvlm_draft_jobs"
# The audit action of a radiologist's draft request (resource: the job); its detail may carry
# ``override_intended_use``, which lets the worker draft a study the intended-use gate refuses.
DRAFT_REQUESTED = "study.draft_requested"
NOT_DRAFTED_PREFIX = "not drafted: "  # a refused job's last error: this, then the gate's reason


def enqueue(session: Session, study_uid: str, *, max_attempts: int) -> DraftJob | None:
    """A draft job for the study, unless one is pending or a clinician already works on its report."""
    pending = session.exec(
        select(DraftJob).where(
            col(DraftJob.study_instance_uid) == study_uid, col(DraftJob.status).in_(ACTIVE)
        )
    ).first()  # type: ignore[attr-defined]
    if pending is not None:
        return pending
    report = session.exec(select(Report).where(Report.study_instance_uid == study_uid)).first()
    if report is not None and report.status != "draft":
        return None
    job = DraftJob(study_instance_uid=study_uid, max_attempts=max_attempts)
    session.add(job)
    set_study_status(session, study_uid, StudyStatus.DRAFTING)
    session.flush()
    notify_queued(session)
    return job


def notify_queued(session: Session) -> None:
    """On PostgreSQL, wake listening workers (any process) when this transaction commits; a no-op if it
    rolls back. SQLite has no such channel: there the worker runs in the API process and is woken in-process.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": JOBS_CHANNEL})


def claim(engine: Engine, worker_id: str, lease: timedelta) -> DraftJob | None:
    """Take the next job (committed at once), or None when there is nothing to do."""
    with Session(engine, expire_on_commit=False) as session:
        now = now_utc()
        runnable = or_(
            col(DraftJob.status) == "queued",
            (col(DraftJob.status) == "running") & (col(DraftJob.lease_until) < now),
        )  # type: ignore[operator]
        stmt = (
            select(DraftJob)
            .where(runnable)
            .order_by(col(DraftJob.created_at))
            .limit(1)  # type: ignore[arg-type]
            .with_for_update(skip_locked=True)
        )
        job = session.exec(stmt).first()
        if job is None:
            return None
        if job.attempts >= job.max_attempts:  # its worker died on the last allowed attempt
            _finish_failed(session, job, job.last_error or "worker stopped during the last attempt")
            session.commit()
            return claim(engine, worker_id, lease)
        taken = session.execute(
            update(DraftJob)
            .where(
                col(DraftJob.id) == job.id,
                DraftJob.status == job.status,  # type: ignore[arg-type]
                col(DraftJob.attempts) == job.attempts,
            )  # type: ignore[arg-type]
            .values(
                status="running",
                attempts=job.attempts + 1,
                worker_id=worker_id,
                lease_until=now + lease,
                updated_at=now,
            )
        )
        session.commit()
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        session.refresh(job)
        return job


def _finish_failed(session: Session, job: DraftJob, reason: str, *, study_status: str = StudyStatus.FAILED,
                   study_reason: str | None = None) -> None:
    job.status = "failed"
    job.last_error = reason
    job.finished_at = job.updated_at = now_utc()
    session.add(job)
    set_study_status(session, job.study_instance_uid, study_status, reason=study_reason or reason)


def still_owned(session: Session, job_id: str, worker_id: str) -> DraftJob | None:
    """The job, locked, if this worker still holds it (a lease that expired may have been re-claimed)."""
    job = session.exec(select(DraftJob).where(DraftJob.id == job_id).with_for_update()).first()
    if job is None or job.status != "running" or job.worker_id != worker_id:
        return None
    return job


def mark_done(session: Session, job: DraftJob, report_id: str) -> None:
    job.status = "done"
    job.report_id = report_id
    job.last_error = None
    job.finished_at = job.updated_at = now_utc()
    job.lease_until = None
    session.add(job)


def mark_refused(session: Session, job: DraftJob, reason: str) -> None:
    """The study is outside intended use: the job fails at once (a retry would decide the same), and the
    study is ``not_drafted`` with the gate's reason, on the worklist apart from technical failures."""
    _finish_failed(session, job, f"{NOT_DRAFTED_PREFIX}{reason}", study_status=StudyStatus.NOT_DRAFTED,
                   study_reason=reason)


def mark_failed_attempt(session: Session, job: DraftJob, reason: str) -> None:
    """Record why the attempt failed; retry later unless the attempts are used up."""
    if job.attempts >= job.max_attempts:
        _finish_failed(session, job, reason)
        return
    job.status = "queued"
    job.last_error = reason
    job.lease_until = None
    job.updated_at = now_utc()
    session.add(job)


def requeue_after_restart(engine: Engine) -> int:
    """On a single-worker (SQLite) start, jobs left running by a dead process are runnable at once."""
    with Session(engine) as session:
        result = session.execute(
            update(DraftJob)
            .where(DraftJob.status == "running")  # type: ignore[arg-type]
            .values(lease_until=now_utc() - timedelta(seconds=1))
        )
        session.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]
