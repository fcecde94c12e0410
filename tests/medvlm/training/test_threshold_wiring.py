"""`medvlm train` hands an encoder stage's `threshold_min_positives` / `sparse_threshold` to the tuning."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from medvlm.model import load_bundle
from tests.medvlm.training.conftest import write_curriculum

# Every finding counts as sparse (fewer than 10,000 validation positives), so every cut is at least 0.97.
SPARSE_KEYS = "    threshold_min_positives: 10000\n    sparse_threshold: 0.97\n"


def _thresholds(root: Path, synth_data: Path, stage_keys: str) -> dict[str, float]:
    from medvlm.training.runner import TrainOptions, train

    curriculum = write_curriculum(root, encoder_steps=4, text_stages=False)
    text = curriculum.read_text()
    curriculum.write_text(text.replace("    select_on: findings.macro_auroc\n",
                                       "    select_on: findings.macro_auroc\n" + stage_keys))
    data = root / "data"
    shutil.copytree(synth_data, data)
    torch.set_num_threads(1)
    train(TrainOptions(curriculum, data, root / "model", progress=False, register=False))
    return load_bundle(root / "model").config.thresholds


def test_sparse_findings_get_the_curriculum_floor(tmp_path: Path, synth_data: Path) -> None:
    floored = _thresholds(tmp_path / "floored", synth_data, SPARSE_KEYS)
    assert floored and min(floored.values()) >= 0.97, floored
    default = _thresholds(tmp_path / "default", synth_data, "")  # threshold_min_positives 0: no floor
    assert min(default.values()) < 0.97, default


def test_an_oversampled_findings_floor_moves_up_and_the_card_says_by_how_much(
    tmp_path: Path, synth_data: Path
) -> None:
    """Half of the train films with cardiomegaly marked as rendered again for it (as `medvlm data build
    --min-positives` marks them): its floor is set on the natural prior, above the curriculum's 0.97."""
    import json

    from medvlm.training.stage_metrics import shifted_floor

    data = tmp_path / "marked"
    shutil.copytree(synth_data, data)
    lines = [json.loads(x) for x in (data / "manifest.jsonl").read_text().splitlines()]
    positive = [x for x in lines if x["split"] == "train"
                and any(f["label"] == "cardiomegaly" and f.get("presence", "present") == "present"
                        for f in x["findings"])]
    for x in positive[::2]:
        x["provenance"] = {**(x.get("provenance") or {}), "oversampled_for": "cardiomegaly"}
    (data / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    thresholds = _thresholds(tmp_path / "run", data, SPARSE_KEYS)
    card = json.loads((tmp_path / "run" / "model" / "model_card.json").read_text())
    shifts = card["stages"][0]["threshold_prior_shifts"]
    assert shifts["cardiomegaly"] > 0.1
    assert thresholds["cardiomegaly"] >= shifted_floor(0.97, shifts["cardiomegaly"]) - 1e-9 > 0.97
