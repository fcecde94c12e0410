"""Model directories with model cards, as ``ModelBundle.save`` writes them (the card is the hand-off)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CardFactory = Callable[..., Path]


@pytest.fixture
def model_dir_factory(tmp_path: Path) -> CardFactory:
    def make(version: str, *, ce_f1: float | None = 0.8, auroc: float | None = 0.9,
             hallucination: float | None = 0.1, parent: str | None = None, **overrides: Any) -> Path:
        directory = tmp_path / "models" / version
        directory.mkdir(parents=True, exist_ok=True)
        pairs = (("report.ce_f1", ce_f1), ("findings.macro_auroc", auroc),
                 ("report.hallucination_rate", hallucination))
        metrics = {k: v for k, v in pairs if v is not None}
        card = {
            "version": version,
            "parent": parent,
            "preset": "tiny",
            "curriculum": "curricula/chest_xray.yaml",
            "curriculum_sha256": "c" * 64,
            "data_manifest_sha256": "d" * 64,
            "config": {"hidden_size": 64, "image_size": 128},
            "metrics": metrics,
            "stages": [{"name": "encoder", "best_step": 10}],
            "created_at": "2026-11-22T01:00:00+00:00",
        }
        card.update(overrides)
        (directory / "model_card.json").write_text(json.dumps(card))
        return directory

    return make
