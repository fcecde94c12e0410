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
