"""Wake in-process drafting workers when any process queues a job (PostgreSQL LISTEN / NOTIFY).

With several API processes the upload lands in a process that runs no worker; ``queue.enqueue`` sends a
NOTIFY that PostgreSQL delivers at commit, and this listener (in the workers' process) sets their wake
event, so a job starts at once instead of at the next poll. Polling stays as the fallback.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from medvlm.service.jobs.queue import JOBS_CHANNEL

log = logging.getLogger("medvlm.worker")


def _conninfo(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def listen_for_jobs(engine: Engine, wake: threading.Event, stop: threading.Event) -> None:
    """Set ``wake`` on every job notification until ``stop``; reconnects after a lost connection."""
    import psycopg

    while not stop.is_set():
        try:
            with psycopg.connect(_conninfo(engine), autocommit=True) as conn:
                conn.execute(f"LISTEN {JOBS_CHANNEL}")
                wake.set()  # anything queued while we were not listening
                while not stop.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        wake.set()
        except psycopg.Error:
            log.exception("job listener: connection lost, retrying")
            stop.wait(1.0)


def start_wakeup_listener(
    engine: Engine, wake: threading.Event, stop: threading.Event
) -> threading.Thread | None:
    """A daemon listener thread on PostgreSQL; None on SQLite (one process, woken in-process)."""
    if engine.dialect.name != "postgresql":
        return None
    thread = threading.Thread(
        target=listen_for_jobs, args=(engine, wake, stop), daemon=True, name="draft-job-listener"
    )
    thread.start()
    return thread
