"""Training's findings metrics use the evaluation module's AUROC / F1 / macro (one definition each)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from medvlm.evaluation import classification
from medvlm.training import stage_metrics as training_evaluate


def test_findings_metrics_match_medvlm_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    truth = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]], dtype=np.float32)
    probs = np.array([[0.9, 0.2, 0.1], [0.4, 0.7, 0.6], [0.6, 0.3, 0.2], [0.2, 0.1, 0.1]])
    monkeypatch.setattr(training_evaluate, "findings_probabilities", lambda bundle, images, **_: probs)
    monkeypatch.setattr(training_evaluate, "findings_targets",
                        lambda records, slots: {"presence": torch.from_numpy(truth)})
    config = SimpleNamespace(slots=None, threshold=lambda name: 0.5)
    bundle = SimpleNamespace(names=["a", "b", "c"], config=config)
    metrics = training_evaluate.findings_metrics(bundle, torch.zeros(4, 1, 8, 8), [])  # type: ignore[arg-type]
    aurocs = [classification.auroc(truth[:, j], probs[:, j]) for j in range(3)]
    f1s = [classification.f1(truth[:, j], (probs[:, j] >= 0.5).astype(int)) for j in range(3)]
    assert aurocs[2] is None and "findings.auroc.c" not in metrics  # one class only: left out
    assert metrics["findings.macro_auroc"] == pytest.approx(classification.macro(aurocs))
    # c: no true and one predicted positive -> F1 0.0, counted (as medvlm eval counts it)
    assert metrics["findings.macro_f1"] == pytest.approx(classification.macro(f1s))
    assert not hasattr(training_evaluate, "_auroc")
