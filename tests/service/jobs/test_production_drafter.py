"""Without MEDVLM_MODEL_DIR the service drafts with the registry's production model, and a promotion takes
effect on the next draft without a restart. Real (untrained) micro bundles, registered and promoted."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medvlm.service.app import create_app
from medvlm.service.jobs.drafter import NO_MODEL, UNVALIDATED, BundleDrafter
from medvlm.settings import Settings, get_settings
from tests.service.helpers import chest_dicom_bytes, run_jobs

API = "/api/v1"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def bundle_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from medvlm.model import build_model
    from medvlm.ontology import load_ontology

    corpus = ["Heart size is normal. The lungs are clear.", "Small left pleural effusion."] * 5
    out = []
    for seed in (0, 1):
        bundle = build_model("micro", load_ontology(), tokenizer_corpus=corpus, seed=seed)
        bundle.config.max_new_tokens = 8  # untrained text is noise; keep generation short
        out.append(bundle.save(tmp_path_factory.mktemp(f"bundle{seed}")))
    return out[0], out[1]


@pytest.fixture
def app(app_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FastAPI:
    from tests.support.floors import allow_untrained_models

    monkeypatch.delenv("MEDVLM_MODEL_DIR", raising=False)
    allow_untrained_models(tmp_path, monkeypatch)  # untrained bundles are below the real floors
    return create_app(get_settings())  # no drafter given: the configured source is used


def _upload_and_draft(client: TestClient, headers: dict[str, str], worker, study_uid: str) -> dict:  # type: ignore[no-untyped-def]
    up = client.post(f"{API}/studies", files=[("files", ("a.dcm", chest_dicom_bytes(study_uid=study_uid)))],
                     headers=headers)
    assert up.status_code == 202, up.text
    run_jobs(worker)
    return client.get(f"{API}/jobs/{up.json()['jobs'][0]}", headers=headers).json()


def test_drafts_follow_the_production_version(
    client: TestClient, callers, worker, app: FastAPI, bundle_dirs: tuple[Path, Path]  # type: ignore[no-untyped-def]
) -> None:
    from medvlm.registry.registry import promote, register_version

    h = callers.radiologist
    assert app.state.drafter() is None
    assert client.get("/ready", headers=callers.admin).json()["model_configured"] is False
    job = _upload_and_draft(client, h, worker, "1.2.826.0.1.3680043.8.498.1")
    assert job["status"] in ("queued", "failed") and NO_MODEL in (job["last_error"] or "")

    first, second = (register_version(d) for d in bundle_dirs)
    assert first.id != second.id
    promote(first.id)
    drafter = app.state.drafter()
    assert isinstance(drafter, BundleDrafter) and drafter.model_dir == Path(first.model_dir)
    assert app.state.drafter() is drafter  # loaded once, reused while production stays the same
    job = _upload_and_draft(client, h, worker, "1.2.826.0.1.3680043.8.498.2")
    assert job["status"] == "done", job
    report = client.get(f"{API}/reports/{job['report_id']}", headers=h).json()
    assert report["model_version"] == first.id

    promote(second.id, tolerance=1.0)
    job = _upload_and_draft(client, h, worker, "1.2.826.0.1.3680043.8.498.3")
    report = client.get(f"{API}/reports/{job['report_id']}", headers=h).json()
    assert report["model_version"] == second.id


def test_a_pinned_model_directory_wins(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch, bundle_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    from medvlm.registry.registry import promote, register_version
    from tests.support.floors import allow_untrained_models

    allow_untrained_models(tmp_path, monkeypatch)  # untrained bundles are below the real floors
    promote(register_version(bundle_dirs[0]).id)
    monkeypatch.setenv("MEDVLM_MODEL_DIR", str(bundle_dirs[1]))
    get_settings.cache_clear()
    drafter = create_app(get_settings()).state.drafter()
    assert isinstance(drafter, BundleDrafter) and drafter.model_dir == bundle_dirs[1]
    # the pinned model is not the production one: every draft of it says "unvalidated model"
    film = tmp_path / "pa.dcm"
    film.write_bytes(chest_dicom_bytes())
    assert drafter.draft([film]).model_version.endswith(UNVALIDATED)
    monkeypatch.setenv("MEDVLM_MODEL_DIR", str(bundle_dirs[0]))  # the production model, pinned
    get_settings.cache_clear()
    pinned_production = create_app(get_settings()).state.drafter()
    assert not pinned_production.draft([film]).model_version.endswith(UNVALIDATED)
