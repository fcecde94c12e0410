"""``POST /retrain`` (admin): a queued job exports the signed corrections, trains from production with
progress, registers the candidate and leaves production alone when the registry's gate refuses it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from medvlm.compliance.audit import AuditEvent
from medvlm.registry.tables import ModelVersion
from tests.medvlm.training.conftest import write_curriculum
from tests.medvlm.training.synthdata import build_dataset
from tests.medvlm.training.test_corrections_stage import STAGE, TEACH
from tests.service.helpers import dicom_bytes, run_jobs

API = "/api/v1"


def _production(root: Path, data: Path) -> str:
    """A micro model after 3 encoder steps, promoted, with a macro-AUROC no retraining can reach."""
    from medvlm.registry import promote, register_version
    from medvlm.training.runner import TrainOptions, train

    torch.set_num_threads(1)
    train(TrainOptions(write_curriculum(root, 3, False), data, root / "base", progress=False, register=False))
    version = register_version(root / "base").id
    promote(version)
    from medvlm.db import session_scope
    from medvlm.registry.registry import ready_engine

    with session_scope(ready_engine()) as session:
        row = session.exec(select(ModelVersion).where(ModelVersion.id == version)).one()
        row.metrics = {**row.metrics, "findings.macro_auroc": 1.5}
        session.add(row)
    return version


def _signed_correction(client: TestClient, worker, h: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    files = [("files", ("a.dcm", dicom_bytes(study_uid="1.2.99.1"), "application/dicom"))]
    assert client.post(f"{API}/studies", files=files, headers=h).status_code == 202
    run_jobs(worker)
    rid = client.get(f"{API}/studies/1.2.99.1/report", headers=h).json()["id"]
    ptx = {"label": "pneumothorax", "presence": "present", "laterality": "left"}
    edit = client.put(f"{API}/reports/{rid}", json={"base_version": 1, "findings": [ptx]}, headers=h)
    assert edit.status_code == 200, edit.text
    assert client.post(f"{API}/reports/{rid}/sign", json={"confirm": True}, headers=h).status_code == 200


def test_admin_retrains_and_the_gate_keeps_production(  # type: ignore[no-untyped-def]
    client: TestClient, app: FastAPI, callers, worker, tmp_path: Path, monkeypatch
) -> None:
    from tests.support.floors import allow_untrained_models

    allow_untrained_models(tmp_path, monkeypatch)  # untrained models; the real floors: tests/medvlm/registry
    data = build_dataset(tmp_path / "dataset", n_train=24, n_validation=8)
    production = _production(tmp_path, data)
    _signed_correction(client, worker, callers.radiologist)
    curriculum = tmp_path / "retrain.yaml"
    curriculum.write_text(STAGE.format(modules="{findings_head: full, language: lora}", teach=TEACH))
    body = {"data_dir": str(data), "curriculum": str(curriculum), "promote": True}

    assert client.post(f"{API}/retrain", json=body, headers=callers.radiologist).status_code == 403
    queued = client.post(f"{API}/retrain", json=body, headers=callers.admin)
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    assert client.post(f"{API}/retrain", json=body, headers=callers.admin).status_code == 409
    assert queued.json()["status"] == "queued" and queued.json()["percent"] == 0
    # a retraining worker (the worker process's thread) claims it from the database and runs it
    from medvlm.service.jobs.retrain_worker import RetrainWorker
    from medvlm.settings import get_settings

    retrainer = RetrainWorker(app.state.engine, get_settings(), worker_id="test-retrain")
    runner = threading.Thread(target=retrainer.run_once)
    runner.start()
    deadline, job, seen = time.monotonic() + 180, queued.json(), set()
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = client.get(f"{API}/retrain/{job_id}", headers=callers.admin).json()
        if job["status"] == "running":
            seen.add((job["stage"], job["worker_id"]))
            assert 0 <= job["percent"] <= 100
    runner.join()
    assert job["status"] == "done", job
    assert any(worker == "test-retrain" for _stage, worker in seen)  # progress shown while it ran
    assert (job["stage"], job["step"], job["steps"], job["percent"]) == ("corrections", 14, 14, 100)
    assert job["candidate_id"] and job["result"]["exported"] == 1 and not job["promoted"]
    assert "findings.macro_auroc" in job["result"]["refused"]
    from medvlm.registry import production_version

    assert production_version().id == production  # type: ignore[union-attr]
    with Session(app.state.engine) as session:
        actions = {e.action for e in session.exec(select(AuditEvent).where(AuditEvent.resource_id == job_id))}
        exported = session.exec(select(AuditEvent).where(AuditEvent.action == "corrections.export")).all()
    assert actions == {"retrain.requested", "retrain.claimed", "retrain.started", "retrain.trained",
                       "retrain.refused", "retrain.finished"}
    assert exported
    listed = client.get(f"{API}/retrain", headers=callers.admin).json()
    assert job_id in {j["id"] for j in listed}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"data_dir": "/nonexistent/dataset"}, 422, "no manifest.jsonl"),
        ({"data_dir": ".", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_requests_are_refused_before_a_job_exists(  # type: ignore[no-untyped-def]
    client: TestClient, callers, body: dict, status: int, message: str
) -> None:
    response = client.post(f"{API}/retrain", json=body, headers=callers.admin)
    assert response.status_code == status and message in response.text
    assert client.get(f"{API}/retrain", headers=callers.admin).json() == []
    missing = client.get(f"{API}/retrain/00000000-0000-0000-0000-000000000000", headers=callers.admin)
    assert missing.status_code == 404
