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


def test_the_supported_macro_leaves_out_findings_with_few_positives(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoint selection reads the supported macro: a finding with one eval positive, scored perfectly
    by chance, must not lift it (it lifts the plain macro)."""
    from medvlm.registry.gate import FINDING_MIN_POSITIVES

    n = 2 * FINDING_MIN_POSITIVES + 4
    rng = np.random.default_rng(0)
    common = (np.arange(n) % 2).astype(np.float32)  # FINDING_MIN_POSITIVES + 2 positives
    rare = np.zeros(n, dtype=np.float32)
    rare[0] = 1  # one positive
    truth = np.stack([common, rare], axis=1)
    probs = np.stack([rng.random(n), np.where(rare == 1, 0.99, 0.01)], axis=1)
    monkeypatch.setattr(training_evaluate, "findings_probabilities", lambda bundle, images, **_: probs)
    monkeypatch.setattr(training_evaluate, "findings_targets",
                        lambda records, slots: {"presence": torch.from_numpy(truth)})
    config = SimpleNamespace(slots=None, threshold=lambda name: 0.5)
    bundle = SimpleNamespace(names=["common", "rare"], config=config)
    metrics = training_evaluate.findings_metrics(bundle, torch.zeros(n, 1, 8, 8), [])  # type: ignore[arg-type]
    common_auroc = classification.auroc(common, probs[:, 0])
    assert metrics["findings.auroc.rare"] == 1.0
    assert metrics["findings.macro_auroc"] == pytest.approx((common_auroc + 1.0) / 2)
    assert metrics["findings.macro_auroc_supported"] == pytest.approx(common_auroc)


def test_the_supported_macro_falls_back_to_the_plain_macro_on_a_small_eval_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    truth = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=np.float32)  # 2 positives each
    probs = np.array([[0.9, 0.2], [0.4, 0.7], [0.6, 0.3], [0.2, 0.1]])
    monkeypatch.setattr(training_evaluate, "findings_probabilities", lambda bundle, images, **_: probs)
    monkeypatch.setattr(training_evaluate, "findings_targets",
                        lambda records, slots: {"presence": torch.from_numpy(truth)})
    config = SimpleNamespace(slots=None, threshold=lambda name: 0.5)
    bundle = SimpleNamespace(names=["a", "b"], config=config)
    metrics = training_evaluate.findings_metrics(bundle, torch.zeros(4, 1, 8, 8), [])  # type: ignore[arg-type]
    assert classification.supported_macro([0.8, 0.9], [2, 2]) is None
    assert metrics["findings.macro_auroc_supported"] == metrics["findings.macro_auroc"]


def test_the_shipped_curricula_select_their_encoder_on_the_supported_macro() -> None:
    from pathlib import Path

    import yaml

    for path in sorted((Path(__file__).resolve().parents[3] / "curricula").glob("chest_xr*.yaml")):
        stages = yaml.safe_load(path.read_text())["stages"]
        encoders = [s for s in stages if s["kind"] == "encoder"]
        assert encoders, path.name
        assert all(s["select_on"] == "findings.macro_auroc_supported" for s in encoders), path.name
