"""The real drafter: an untrained ``micro`` bundle (built, saved, loaded back) drafts through the worker.

The drafts are nonsense (no training) and that is fine: this checks the hand-off from the queue to
``medvlm.model.load_bundle`` + ``medvlm.inference.draft_study`` and back into the review workflow.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from medvlm.service.jobs.drafter import BundleDrafter
from tests.service.helpers import chest_dicom_bytes, dicom_bytes, run_jobs

API = "/api/v1"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from medvlm.model import build_model
    from medvlm.model.novelty import fit_novelty
    from medvlm.ontology import load_ontology

    corpus = ["Heart size is normal. The lungs are clear.", "Small left pleural effusion."] * 5
    directory = tmp_path_factory.mktemp("bundle")
    bundle = build_model("micro", load_ontology(), tokenizer_corpus=corpus, seed=0)
    # familiar films: noise, so that a chest film is stranger than every one of them
    bundle.novelty = fit_novelty(torch.rand(40, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.1)
    bundle.save(directory)
    return directory


@pytest.fixture
def drafter(bundle_dir: Path) -> BundleDrafter:
    return BundleDrafter(bundle_dir, max_new_tokens=16)


def test_model_drafts_and_regenerates(client: TestClient, callers, worker, drafter: BundleDrafter) -> None:  # type: ignore[no-untyped-def]
    import json

    client.post(
        f"{API}/studies",
        files=[("files", ("a.dcm", chest_dicom_bytes(study_uid="1.2.90")))],
        headers=callers.radiologist,
    )
    assert run_jobs(worker) == 1
    report = client.get(f"{API}/studies/1.2.90/report", headers=callers.radiologist).json()
    card = json.loads((drafter.model_dir / "model_card.json").read_text())
    assert report["model_version"] == card["version"]
    assert len(report["findings"]) >= 10 and all(0 <= f["probability"] <= 1 for f in report["findings"])
    # the worklist's order=uncertainty key: the smallest |probability - threshold| of this draft, times
    # the film's familiarity (stranger than all 8 calibration films of the saved fit: 1 / 9)
    bundle = drafter._load()
    margin = min(abs(f["probability"] - bundle.config.threshold(f["label"])) for f in report["findings"])
    assert bundle.novelty is not None and bundle.novelty.calibration.numel() == 8
    listed = client.get(f"{API}/studies", params={"order": "uncertainty"}, headers=callers.radiologist).json()
    assert listed["items"][0]["uncertainty"] == pytest.approx(margin / 9, abs=1e-5)
    edited = [{"label": "pneumothorax", "laterality": "left"}]
    regen = client.post(
        f"{API}/reports/{report['id']}/regenerate", json={"findings": edited}, headers=callers.radiologist
    )
    assert regen.status_code == 200, regen.text
    body = regen.json()
    assert body["status"] == "in_review" and body["version"] == 2
    assert [f["label"] for f in body["findings"] if f["presence"] != "absent"] == ["pneumothorax"]
    assert body["findings"][0]["critical"] is True  # the ontology decides


def test_study_outside_intended_use_is_not_drafted(client: TestClient, callers, worker,  # type: ignore[no-untyped-def]
                                                   drafter: BundleDrafter) -> None:
    """A CT reaches the queue like any upload; the model's drafter refuses it at once, with the reason
    on the job, the study failed without a report, and the refusal audited."""
    from sqlmodel import Session, select

    from medvlm.compliance.audit.tables import AuditEvent

    client.post(f"{API}/studies", files=[("files", ("ct.dcm", dicom_bytes(study_uid="1.2.91")))],
                headers=callers.radiologist)
    assert run_jobs(worker) == 1
    jobs = client.get(f"{API}/jobs", params={"study_uid": "1.2.91"}, headers=callers.radiologist).json()
    job = (jobs.get("items") if isinstance(jobs, dict) else jobs)[0]
    assert job["status"] == "failed" and job["attempts"] == 1  # not retried: the answer would not change
    assert job["last_error"].startswith("not drafted: outside intended use: modality CT")
    assert client.get(f"{API}/studies/1.2.91/report", headers=callers.radiologist).status_code == 404
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.resource_id == "1.2.91")).all()
    assert "study.not_drafted" in actions


def test_a_radiologist_may_ask_for_a_draft_outside_intended_use(client: TestClient, callers, worker,  # type: ignore[no-untyped-def]
                                                                 drafter: BundleDrafter) -> None:
    """Refused by the gate; asked again without override: refused again; with override: drafted, the
    draft's first flag says so and who asked, and the request is audited."""
    h = callers.radiologist
    client.post(f"{API}/studies", files=[("files", ("ct.dcm", dicom_bytes(study_uid="1.2.92")))], headers=h)
    assert run_jobs(worker) == 1
    again = client.post(f"{API}/studies/1.2.92/draft", json={}, headers=h)
    assert again.status_code == 202, again.text
    assert run_jobs(worker) == 1
    assert client.get(f"{API}/studies/1.2.92/report", headers=h).status_code == 404
    assert client.post(f"{API}/studies/1.2.92/draft", json={"colour": "red"}, headers=h).status_code == 422
    asked = client.post(f"{API}/studies/1.2.92/draft",
                        json={"override_intended_use": True, "reason": "clinician insists"}, headers=h)
    assert asked.status_code == 202 and asked.json()["override_intended_use"] is True
    assert run_jobs(worker) == 1
    report = client.get(f"{API}/studies/1.2.92/report", headers=h).json()
    first = report["consistency_flags"][0]
    assert first["kind"] == "intended_use" and "DRAFTED OUTSIDE INTENDED USE" in first["message"]
    assert "modality CT" in first["message"] and "radiologist1 (clinician insists)" in first["message"]
    denied = client.post(f"{API}/studies/1.2.92/draft", json={}, headers=callers.researcher)
    assert denied.status_code == 403
