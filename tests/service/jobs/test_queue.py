"""The draft-job queue: bounded retries with reasons, concurrent workers, lost leases, and a worker killed
mid-draft whose job completes after a restart. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.service.db.tables import DraftJob, Report, StudyState
from medvlm.service.intake.intake import queue_undrafted
from medvlm.service.jobs import queue
from medvlm.service.jobs.worker import Worker
from tests.service.helpers import FailingDrafter, PixelDrafter, dicom_bytes, run_jobs

API = "/api/v1"
REPO = Path(__file__).resolve().parents[3]


def _upload(client: TestClient, headers: dict[str, str], *uids: str) -> list[str]:
    files = [("files", (f"{u}.dcm", dicom_bytes(study_uid=u))) for u in uids]
    response = client.post(f"{API}/studies", files=files, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["jobs"]


def _job(app, job_id: str) -> DraftJob:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        job = session.get(DraftJob, job_id)
        assert job is not None
        return job


def test_failures_are_retried_then_recorded(client: TestClient, app, callers) -> None:  # type: ignore[no-untyped-def]
    [job_id] = _upload(client, callers.radiologist, "1.2.70")
    failing = FailingDrafter("decoder exploded")
    worker = Worker(app.state.engine, lambda: failing, worker_id="w1")
    limit = app.state.settings.job_max_attempts
    for attempt in range(1, limit + 1):
        assert worker.run_once()
        job = _job(app, job_id)
        assert job.attempts == attempt and job.last_error == "RuntimeError: decoder exploded"
        assert job.status == ("failed" if attempt == limit else "queued")
    assert not worker.run_once() and failing.calls == limit
    with Session(app.state.engine) as session:
        assert session.get(StudyState, "1.2.70").status == "failed"
    shown = client.get(f"{API}/jobs/{job_id}", headers=callers.radiologist).json()
    assert shown["status"] == "failed" and "decoder exploded" in shown["last_error"]


def test_a_failure_then_success(client: TestClient, app, callers) -> None:  # type: ignore[no-untyped-def]
    [job_id] = _upload(client, callers.radiologist, "1.2.71")
    drafters = iter([FailingDrafter("transient"), PixelDrafter()])
    worker = Worker(app.state.engine, lambda: next(drafters), worker_id="w1")
    assert run_jobs(worker) == 2
    job = _job(app, job_id)
    assert (job.status, job.attempts, job.last_error) == ("done", 2, None) and job.report_id


def test_no_model_configured_is_a_recorded_failure(client: TestClient, app, callers) -> None:  # type: ignore[no-untyped-def]
    [job_id] = _upload(client, callers.radiologist, "1.2.72")
    run_jobs(Worker(app.state.engine, lambda: None, worker_id="w1"))
    job = _job(app, job_id)
    assert job.status == "failed" and "no validated model is available" in job.last_error


def test_concurrent_workers_never_share_a_job(client: TestClient, app, callers) -> None:  # type: ignore[no-untyped-def]
    uids = [f"1.2.80.{i}" for i in range(6)]
    jobs = _upload(client, callers.radiologist, *uids)
    assert len(jobs) == 6
    workers = [Worker(app.state.engine, PixelDrafter, worker_id=f"w{i}") for i in range(3)]
    threads = [threading.Thread(target=run_jobs, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    with Session(app.state.engine) as session:
        rows = session.exec(select(DraftJob)).all()
        assert {(j.status, j.attempts) for j in rows} == {("done", 1)}
        assert len(session.exec(select(Report)).all()) == 6


def test_a_lost_lease_drops_the_late_result(client: TestClient, app, callers) -> None:  # type: ignore[no-untyped-def]
    [job_id] = _upload(client, callers.radiologist, "1.2.73")
    slow = queue.claim(app.state.engine, "slow-worker", timedelta(seconds=-1))  # its lease is already over
    assert slow is not None and slow.id == job_id
    fast = Worker(app.state.engine, PixelDrafter, worker_id="fast")
    assert fast.run_once()
    late = Worker(app.state.engine, PixelDrafter, worker_id="slow-worker")
    late._process(slow)  # finishes after losing the job: must not write a second draft
    job = _job(app, job_id)
    assert (job.status, job.worker_id, job.attempts) == ("done", "fast", 2)
    with Session(app.state.engine) as session:
        assert session.exec(select(Report)).one().version == 1


def test_killed_worker_job_completes_after_restart(client: TestClient, app, callers, tmp_path) -> None:  # type: ignore[no-untyped-def]
    [job_id] = _upload(client, callers.radiologist, "1.2.74")
    marker = tmp_path / "started"
    env = {
        **os.environ,
        "MEDVLM_TEST_MARKER": str(marker),
        "PYTHONPATH": str(REPO),
        "MEDVLM_DATABASE_URL": app.state.settings.resolved_database_url,
        "MEDVLM_DATA_DIR": str(app.state.settings.data_dir),
    }
    command = [
        sys.executable,
        "-m",
        "medvlm.service.jobs.worker",
        "--drafter",
        "tests.service.helpers:hanging_drafter",
        "--lease-seconds",
        "2",
        "--poll-seconds",
        "0.1",
    ]
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the worker never started drafting"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)  # mid-draft, no chance to clean up
        proc.wait(timeout=30)
    job = _job(app, job_id)
    assert (job.status, job.attempts) == ("running", 1)

    # Restart: a single SQLite worker requeues at start; on PostgreSQL the 2 s lease runs out.
    if app.state.engine.dialect.name == "sqlite":
        assert queue.requeue_after_restart(app.state.engine) == 1
    else:
        time.sleep(2.1)
    restarted = Worker(app.state.engine, PixelDrafter, worker_id="restarted")
    assert restarted.run_once()
    job = _job(app, job_id)
    assert (job.status, job.attempts, job.worker_id) == ("done", 2, "restarted")
    report = client.get(f"{API}/studies/1.2.74/report", headers=callers.radiologist)
    assert report.status_code == 200 and report.json()["status"] == "draft"


def test_studies_ingested_outside_the_api_get_queued_once(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from medvlm.dicom.ingest import ingest_paths

    for i, uid in enumerate(("1.2.75", "1.2.76")):
        (tmp_path / f"{i}.dcm").write_bytes(dicom_bytes(study_uid=uid))
    assert ingest_paths([tmp_path], settings=app.state.settings).ingested == 2
    engine, settings = app.state.engine, app.state.settings
    assert queue_undrafted(engine, settings) == 2
    assert queue_undrafted(engine, settings) == 0  # already queued
    assert run_jobs(Worker(app.state.engine, PixelDrafter, worker_id="w")) == 2
    assert queue_undrafted(engine, settings) == 0  # drafted
