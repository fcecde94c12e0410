"""The drafting worker: claim a job, draft outside any transaction, store the draft and finish the job in one.

The model call holds no database lock, so the API stays responsive while a draft is computed. If the
worker dies mid-draft, the job's lease runs out (or, single worker on SQLite, the next start requeues
it) and another attempt picks it up. Run as a thread by ``medvlm serve`` or alone:
``python -m service.jobs.worker [--drafter module:factory] [--lease-seconds N]``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from medvlm.dicom.study_order import study_instances
from medvlm.errors import NotFoundError
from medvlm.gate.errors import OutsideIntendedUseError
from medvlm.service.audit import audit
from medvlm.service.db.tables import DraftJob
from medvlm.service.errors import ModelUnavailableError
from medvlm.service.jobs import queue
from medvlm.service.jobs.drafter import NO_MODEL, Drafter
from medvlm.service.priors import fetch_priors_before_drafting, with_comparison
from medvlm.service.workflow.draft_output import DraftOutput
from medvlm.service.workflow.reports import save_draft

log = logging.getLogger("medvlm.worker")


def study_paths(session: Session, study_uid: str) -> list[Path]:
    rows = session.exec(study_instances(study_uid)).all()
    if not rows:
        raise NotFoundError(f"study {study_uid} has no stored instances to draft from")
    return [Path(instance.path) for instance, _series in rows]


class Worker:
    def __init__(
        self,
        engine: Engine,
        drafter: Callable[[], Drafter | None],
        *,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        poll_seconds: float = 0.5,
        wake: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.drafter = drafter
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.wake = wake

    def run_once(self) -> bool:
        """Process one job if there is one; True when a job was taken."""
        job = queue.claim(self.engine, self.worker_id, self.lease)
        if job is None:
            return False
        self._process(job)
        return True

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # a database hiccup must not end the worker; the lease protects the job
                log.exception("worker %s: claiming failed", self.worker_id)
                busy = False
            if not busy:
                # An in-process API wakes the worker as soon as it queues a job; otherwise poll.
                if self.wake is not None:
                    self.wake.wait(self.poll_seconds)
                    self.wake.clear()
                else:
                    stop.wait(self.poll_seconds)

    def _process(self, job: DraftJob) -> None:
        try:
            with Session(self.engine) as session:
                paths = study_paths(session, job.study_instance_uid)
                fetch_priors_before_drafting(session, job.study_instance_uid)
            drafter = self.drafter()
            if drafter is None:
                raise ModelUnavailableError(NO_MODEL)
            output = self._draft(drafter, paths, job)
            with Session(self.engine, expire_on_commit=False) as session:
                owned = queue.still_owned(session, job.id, self.worker_id)
                if owned is None:  # the lease ran out and another worker took over: drop this result
                    return
                output = with_comparison(session, job.study_instance_uid, output)  # names the prior's date
                report = save_draft(
                    session, job.study_instance_uid, output, author=f"model:{output.model_version}"
                )
                audit(
                    session,
                    actor=f"worker:{self.worker_id}",
                    action="report.draft",
                    resource_type="report",
                    resource_id=report.id,
                    detail={
                        "study_instance_uid": job.study_instance_uid,
                        "job_id": job.id,
                        "model_version": output.model_version,
                    },
                )
                queue.mark_done(session, owned, report.id)
                session.commit()
        except OutsideIntendedUseError as exc:  # not a failure to retry: the study is not drafted, and why
            self._refuse(job, str(exc))
        except Exception as exc:  # any failure is recorded on the job with its reason, then retried
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("job %s attempt %d failed: %s", job.id, job.attempts, reason)
            with Session(self.engine) as session:
                owned = queue.still_owned(session, job.id, self.worker_id)
                if owned is not None:
                    queue.mark_failed_attempt(session, owned, reason)
                    session.commit()


    def _draft(self, drafter: Drafter, paths: list[Path], job: DraftJob) -> DraftOutput:
        """The draft; a study outside intended use is drafted only at a radiologist's audited request."""
        try:
            return drafter.draft(paths)
        except OutsideIntendedUseError as exc:
            requested_by = self._override_requested(job)
            if requested_by is None:
                raise
            note = f"{exc}; drafted at the request of {requested_by}"
            return drafter.draft(paths, outside_intended_use=note)  # type: ignore[call-arg]

    def _override_requested(self, job: DraftJob) -> str | None:
        """Who asked for this job to be drafted outside intended use (``POST /studies/{uid}/draft``)."""
        from medvlm.compliance.audit.tables import AuditEvent
        with Session(self.engine) as session:
            rows = session.exec(select(AuditEvent.detail).where(
                AuditEvent.action == queue.DRAFT_REQUESTED, AuditEvent.resource_id == job.id)).all()
        for detail in rows:
            if isinstance(detail, dict) and detail.get("override_intended_use"):
                reason = detail.get("reason")
                return str(detail.get("requested_by") or "?") + (f" ({reason})" if reason else "")
        return None

    def _refuse(self, job: DraftJob, reason: str) -> None:
        """The gate's ``reason``: on the job (after "not drafted: "), the study and the audit row."""
        log.info("job %s: not drafted: %s", job.id, reason)
        with Session(self.engine) as session:
            owned = queue.still_owned(session, job.id, self.worker_id)
            if owned is None:
                return
            queue.mark_refused(session, owned, reason)
            audit(
                session,
                actor=f"worker:{self.worker_id}",
                action="study.not_drafted",
                resource_type="study",
                resource_id=job.study_instance_uid,
                detail={"job_id": job.id, "reason": f"{queue.NOT_DRAFTED_PREFIX}{reason}"},
            )
            session.commit()


def load_factory(spec: str) -> Callable[[], Drafter | None]:
    """``module:callable`` -> a drafter factory (a deployment hook, and how tests plug in a drafter)."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> None:
    from medvlm.db import get_engine
    from medvlm.service.jobs.drafter import drafter_source
    from medvlm.settings import get_settings

    parser = argparse.ArgumentParser(description="Run the MedVLM drafting worker.")
    parser.add_argument(
        "--drafter", help="module:factory returning a Drafter (default: the configured model)"
    )
    parser.add_argument("--lease-seconds", type=float, default=300.0)
    parser.add_argument("--poll-seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    settings = get_settings()
    engine = get_engine(settings.resolved_database_url)
    if engine.dialect.name == "sqlite":
        queue.requeue_after_restart(engine)
    factory = load_factory(args.drafter) if args.drafter else drafter_source(settings)
    logging.basicConfig(level=logging.INFO)
    worker = Worker(
        engine, factory, lease=timedelta(seconds=args.lease_seconds), poll_seconds=args.poll_seconds
    )
    from medvlm.service.hl7.sender import start_sender
    from medvlm.service.jobs.retrain_worker import start_retrain_worker

    stop = threading.Event()
    start_sender(engine, settings, stop)  # the worker unit also delivers HL7 results, when configured
    start_retrain_worker(engine, settings, stop)  # and runs admins' retraining jobs (queued in the database)
    worker.run(stop)


if __name__ == "__main__":
    main()
