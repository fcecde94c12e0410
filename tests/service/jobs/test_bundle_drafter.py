"""The real drafter: an untrained ``micro`` bundle (built, saved, loaded back) drafts through the worker.

The drafts are nonsense (no training) and that is fine: this checks the hand-off from the queue to
``medvlm.model.load_bundle`` + ``medvlm.inference.draft_study`` and back into the review workflow.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from medvlm.service.jobs.drafter import BundleDrafter
from tests.service.helpers import dicom_bytes, run_jobs

API = "/api/v1"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medvlm.model import build_model
    from medvlm.ontology import load_ontology

    corpus = ["Heart size is normal. The lungs are clear.", "Small left pleural effusion."] * 5
    directory = tmp_path_factory.mktemp("bundle")
    build_model("micro", load_ontology(), tokenizer_corpus=corpus, seed=0).save(directory)
    return directory


@pytest.fixture
def drafter(bundle_dir: Path) -> BundleDrafter:
    return BundleDrafter(bundle_dir, max_new_tokens=16)


def test_model_drafts_and_regenerates(client: TestClient, callers, worker, drafter: BundleDrafter) -> None:  # type: ignore[no-untyped-def]
    import json

    client.post(
        f"{API}/studies",
        files=[("files", ("a.dcm", dicom_bytes(study_uid="1.2.90")))],
        headers=callers.radiologist,
    )
    assert run_jobs(worker) == 1
    report = client.get(f"{API}/studies/1.2.90/report", headers=callers.radiologist).json()
    card = json.loads((drafter.model_dir / "model_card.json").read_text())
    assert report["model_version"] == card["version"]
    assert len(report["findings"]) >= 10 and all(0 <= f["probability"] <= 1 for f in report["findings"])
    # the worklist's order=uncertainty key: the smallest |probability - threshold| of this draft
    threshold = drafter._load().config.threshold
    margin = min(abs(f["probability"] - threshold(f["label"])) for f in report["findings"])
    listed = client.get(f"{API}/studies", params={"order": "uncertainty"}, headers=callers.radiologist).json()
    assert listed["items"][0]["uncertainty"] == pytest.approx(margin, abs=1e-5)
    edited = [{"label": "pneumothorax", "laterality": "left"}]
    regen = client.post(
        f"{API}/reports/{report['id']}/regenerate", json={"findings": edited}, headers=callers.radiologist
    )
    assert regen.status_code == 200, regen.text
    body = regen.json()
    assert body["status"] == "in_review" and body["version"] == 2
    assert [f["label"] for f in body["findings"] if f["presence"] != "absent"] == ["pneumothorax"]
    assert body["findings"][0]["critical"] is True  # the ontology decides
