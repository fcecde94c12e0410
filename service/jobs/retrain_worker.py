"""The retraining worker: claims queued ``RetrainJob`` rows and runs them, one at a time.

A thread of the drafting worker process (``python -m medvlm.service.jobs.worker``) and of ``medvlm serve``,
apart from the drafting threads so that a long training never holds up drafts. Before each claim it marks
jobs whose worker died (their lease ran out) failed with the reason (``retrain_queue``); on SQLite, where
one worker process is all there is, every job left running at its start is such a job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from sqlalchemy.engine import Engine

from medvlm.service.jobs.retrain import run_retrain
from medvlm.service.jobs.retrain_queue import claim_retrain, fail_interrupted
from medvlm.settings import Settings

log = logging.getLogger("medvlm.retrain")


class RetrainWorker:
    def __init__(self, engine: Engine, settings: Settings, *, worker_id: str | None = None,
                 lease: timedelta = timedelta(minutes=10), poll_seconds: float = 2.0) -> None:
        self.engine, self.settings = engine, settings
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:retrain"
        self.lease, self.poll_seconds = lease, poll_seconds

    def start_up(self) -> list[str]:
        """Jobs a previous process left running: failed with the reason (all of them on SQLite)."""
        return fail_interrupted(self.engine, all_running=self.engine.dialect.name == "sqlite")

    def run_once(self) -> bool:
        """Run one queued job to its end if there is one; True when a job was taken."""
        fail_interrupted(self.engine)
        job = claim_retrain(self.engine, self.worker_id, self.lease)
        if job is None:
            return False
        log.info("retraining job %s claimed by %s", job.id, self.worker_id)
        run_retrain(self.engine, self.settings, job.id, self.lease)
        return True

    def run(self, stop: threading.Event) -> None:
        self.start_up()
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # a database hiccup must not end the worker; the lease protects the job
                log.exception("retraining worker %s: claiming failed", self.worker_id)
                busy = False
            if not busy:
                stop.wait(self.poll_seconds)


def start_retrain_worker(engine: Engine, settings: Settings, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=RetrainWorker(engine, settings).run, args=(stop,), daemon=True,
                              name="retrain-worker")
    thread.start()
    return thread
