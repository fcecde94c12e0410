"""The retraining queue survives a restart: a job is claimed once, a job whose worker died is failed with
the reason (audited, shown by ``GET /retrain/{id}``), and production is never touched by it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from medvlm.service.db.retrain_tables import RetrainJob
from medvlm.service.db.tables import now_utc
from medvlm.service.jobs.retrain_queue import claim_retrain, fail_interrupted
from medvlm.service.jobs.retrain_worker import RetrainWorker
from medvlm.settings import get_settings

API = "/api/v1"
LEASE = timedelta(minutes=5)


def _job(engine, **fields) -> str:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        job = RetrainJob(requested_by="user:admin1", data_dir="/data", curriculum="/c.yaml", **fields)
        session.add(job)
        session.commit()
        return job.id


def _actions(engine, job_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent.action).where(AuditEvent.resource_id == job_id)).all())


def test_a_job_is_claimed_once_and_the_claim_is_audited(app: FastAPI) -> None:
    engine = app.state.engine
    job_id = _job(engine)
    first = claim_retrain(engine, "worker-a", LEASE)
    assert first is not None and first.id == job_id and first.status == "running"
    assert first.worker_id == "worker-a" and first.lease_until is not None
    assert claim_retrain(engine, "worker-b", LEASE) is None  # nothing else queued
    assert _actions(engine, job_id) == ["retrain.claimed"]


# (status, lease from now, all_running: a single worker's start) -> failed as interrupted?
CASES = [
    pytest.param("running", timedelta(minutes=-1), False, True, id="lease-ran-out"),
    pytest.param("running", timedelta(minutes=5), False, False, id="lease-holds"),
    pytest.param("running", timedelta(minutes=5), True, True, id="sqlite-start-all-running"),
    pytest.param("queued", None, True, False, id="queued-waits"),
    pytest.param("done", None, True, False, id="done-stays"),
]


@pytest.mark.parametrize(("status", "lease", "all_running", "interrupted"), CASES)
def test_a_job_whose_worker_stopped_is_failed_with_the_reason(  # type: ignore[no-untyped-def]
    app: FastAPI, client: TestClient, callers, status, lease, all_running, interrupted
) -> None:
    engine = app.state.engine
    job_id = _job(engine, status=status, worker_id="host:1:retrain", stage="corrections", step=3, steps=14,
                  lease_until=now_utc() + lease if lease is not None else None)
    assert fail_interrupted(engine, all_running=all_running) == ([job_id] if interrupted else [])
    shown = client.get(f"{API}/retrain/{job_id}", headers=callers.admin).json()
    if not interrupted:
        assert shown["status"] == status and _actions(engine, job_id) == []
        return
    assert shown["status"] == "failed" and shown["finished_at"]
    assert shown["last_error"].startswith("interrupted: its worker host:1:retrain stopped")
    assert "stage corrections, step 3 of 14" in shown["last_error"]
    assert "production model is unchanged" in shown["last_error"]
    assert shown["percent"] == pytest.approx(21.4)
    assert _actions(engine, job_id) == ["retrain.interrupted"]


def test_a_restarted_worker_fails_what_it_left_running_then_takes_the_next(  # type: ignore[no-untyped-def]
    app: FastAPI, monkeypatch
) -> None:
    """SQLite (one worker): every job left running is the dead process's; the queued one runs next."""
    engine = app.state.engine
    left = _job(engine, status="running", worker_id="old", lease_until=now_utc() + LEASE)
    queued = _job(engine)
    ran: list[str] = []
    monkeypatch.setattr("medvlm.service.jobs.retrain_worker.run_retrain",
                        lambda engine, settings, job_id, lease: ran.append(job_id))
    worker = RetrainWorker(engine, get_settings(), worker_id="new")
    assert worker.start_up() == ([left] if engine.dialect.name == "sqlite" else [])
    assert worker.run_once() is True and ran == [queued]
    assert worker.run_once() is False


def test_queueing_starts_no_thread_in_the_api(client: TestClient, callers, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``POST /retrain`` only writes the row: the job stays queued until a worker claims it."""
    import threading

    (tmp_path / "manifest.jsonl").write_text("")
    before = {t.name for t in threading.enumerate()}
    queued = client.post(f"{API}/retrain", json={"data_dir": str(tmp_path)}, headers=callers.admin)
    assert queued.status_code == 202, queued.text
    assert not any(name.startswith("retrain") for name in {t.name for t in threading.enumerate()} - before)
    shown = client.get(f"{API}/retrain/{queued.json()['id']}", headers=callers.admin).json()
    assert (shown["status"], shown["percent"], shown["worker_id"]) == ("queued", 0, None)


def test_the_worker_thread_starts_claims_and_stops(app: FastAPI, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """What the worker process and ``medvlm serve`` start: a thread that runs queued jobs until stopped."""
    import threading
    import time

    from medvlm.service.jobs.retrain_worker import start_retrain_worker

    engine = app.state.engine
    ran: list[str] = []
    monkeypatch.setattr("medvlm.service.jobs.retrain_worker.run_retrain",
                        lambda engine, settings, job_id, lease: ran.append(job_id))
    queued = _job(engine)
    stop = threading.Event()
    thread = start_retrain_worker(engine, get_settings(), stop)
    assert thread.name == "retrain-worker" and thread.daemon
    deadline = time.monotonic() + 10
    while not ran and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=10)
    assert ran == [queued] and not thread.is_alive()
