"""Uncertain findings ("possible effusion") never train, tune or score as positives (nor as negatives)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from medvlm.evaluation.classification import auroc, known_only
from medvlm.evaluation.scoring import score_findings
from medvlm.findings import Finding, Presence
from medvlm.model.configuration import slots_from_ontology
from medvlm.model.heads import FindingsHead, pos_weights
from medvlm.ontology import load_ontology
from medvlm.training import stage_metrics
from medvlm.training.examples import findings_targets, load_templates, qa_examples
from medvlm.training.manifest import Record

ROOT = Path(__file__).resolve().parents[3]
SLOTS = slots_from_ontology(load_ontology())
NAMES = [s.name for s in SLOTS]
PE, CM, NF = NAMES.index("pleural_effusion"), NAMES.index("cardiomegaly"), NAMES.index("no_finding")
UNSURE = Finding("pleural_effusion", presence=Presence.UNCERTAIN)


def record(*findings: Finding) -> Record:
    return Record("s", "1.2.3", "train", [Path("/x.dcm")], list(findings), "text", "impression")


@pytest.mark.parametrize(
    ("findings", "pe", "pe_known", "nf", "nf_known"),
    [
        ((UNSURE,), 0.0, 0.0, 0.0, 0.0),  # only a hedge: effusion and "normal" both unknown
        ((UNSURE, Finding("cardiomegaly")), 0.0, 0.0, 0.0, 1.0),  # a present finding: not normal
        ((Finding("pleural_effusion"),), 1.0, 1.0, 0.0, 1.0),
        ((), 0.0, 1.0, 1.0, 1.0),
        ((Finding("pleural_effusion", presence=Presence.ABSENT),), 0.0, 1.0, 1.0, 1.0),
    ],
)
def test_targets_mask_uncertain(
    findings: tuple, pe: float, pe_known: float, nf: float, nf_known: float
) -> None:
    t = findings_targets([record(*findings)], SLOTS)
    assert (t["presence"][0, PE], t["known"][0, PE]) == (pe, pe_known)
    assert (t["presence"][0, NF], t["known"][0, NF]) == (nf, nf_known)
    if pe_known == 0:
        assert int(t["laterality"][0, PE]) == -1 and int(t["severity"][0, PE]) == -1


def test_uncertain_finding_gives_zero_gradient_to_its_logit() -> None:
    head = FindingsHead(SLOTS, feature_dim=8)
    targets = findings_targets([record(UNSURE, Finding("cardiomegaly")), record()], SLOTS)
    logits = torch.randn(2, head.num_outputs, requires_grad=True)
    head.loss(logits, targets, pos_weights(targets["presence"], known=targets["known"])).backward()
    assert logits.grad is not None
    assert logits.grad[0, PE] == 0  # the hedged effusion: no pull towards present or absent
    assert logits.grad[1, PE] != 0  # the normal film's effusion is a negative
    assert logits.grad[0, CM] != 0 and logits.grad[0, NF] != 0


def test_pos_weights_count_known_labels_only() -> None:
    presence = torch.tensor([[1.0], [0.0], [0.0], [0.0]])
    known = torch.tensor([[1.0], [1.0], [0.0], [0.0]])
    assert pos_weights(presence, known=known).item() == pytest.approx(1.0)  # 1 vs 1, not 1 vs 3
    assert pos_weights(presence).item() == pytest.approx(3**0.5)


def test_qa_asks_nothing_about_an_uncertain_finding() -> None:
    templates = load_templates(ROOT / "curricula" / "templates" / "questions.yaml")
    examples = qa_examples([record(UNSURE)], [0], SLOTS, templates, negatives=len(SLOTS), seed=0)
    assert not [e for e in examples if "effusion" in (e.question or "")]
    assert examples and all(e.target == "no" for e in examples)


def _bundle() -> SimpleNamespace:
    return SimpleNamespace(names=NAMES, config=SimpleNamespace(slots=SLOTS, threshold=lambda name: 0.5))


def test_thresholds_and_training_metrics_ignore_uncertain(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [record(Finding("pleural_effusion")), record(), record(), record(UNSURE)]
    probs = np.full((4, len(NAMES)), 0.1)
    probs[:, PE] = [0.6, 0.3, 0.2, 0.95]  # the uncertain film scores highest
    monkeypatch.setattr(stage_metrics, "findings_probabilities", lambda bundle, images, laterals=None: probs)
    images = torch.zeros(4, 1, 8, 8)
    metrics = stage_metrics.findings_metrics(_bundle(), images, records)  # type: ignore[arg-type]
    # counted as a negative the uncertain film would give AUROC 2/3; left out it is 1.0
    assert metrics["findings.auroc.pleural_effusion"] == pytest.approx(1.0)
    cut = stage_metrics.tune_thresholds(_bundle(), images, records)["pleural_effusion"]  # type: ignore[arg-type]
    expected = stage_metrics.finding_threshold(np.array([1, 0, 0]), probs[:3, PE])
    assert cut == pytest.approx(expected) and cut <= 0.6


def test_medvlm_eval_scores_leave_uncertain_out() -> None:
    truth = [[Finding("pleural_effusion")], [], [], [UNSURE]]
    probs = [0.6, 0.3, 0.2, 0.95]

    def predicted(p: float) -> list[Finding]:
        return [Finding(n, presence=Presence.ABSENT, probability=p if n == "pleural_effusion" else 0.1)
                for n in NAMES]

    metrics, _ = score_findings(NAMES, [predicted(p) for p in probs], truth)
    row = metrics["findings.per_finding"]["pleural_effusion"]
    assert row["auroc"] == pytest.approx(1.0) and row["support"] == 1
    assert auroc(*known_only(np.array([1, 0, 0, 1]), np.array(probs), np.array([1, 1, 1, 0]))) == 1.0


def test_known_mask_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="known mask and truth differ in shape"):
        known_only(np.zeros(3), np.zeros(3), np.ones(2, dtype=bool))


def test_uncertain_finding_trains_neither_presence_nor_positions() -> None:
    """Encoder stage loss with localize on: a film whose nodule is only uncertain (no recorded position)
    leaves the nodule's detail-map weights without gradient; a normal film's nodule is a negative."""
    from medvlm.model import build_model
    from medvlm.training.images import identity_theta
    from medvlm.training.stage import StageModule

    bundle = build_model("micro", load_ontology(), tokenizer_corpus=["Heart size is normal."] * 5, seed=0)
    module = StageModule(bundle)
    module.localize, module.localized = 1.0, torch.ones(len(SLOTS), dtype=torch.bool)
    nodule = NAMES.index("nodule")
    assert bundle.head.detail is not None

    def grad(*findings: Finding) -> torch.Tensor:
        bundle.head.zero_grad()
        payload = dict(findings_targets([record(*findings)] * 2, SLOTS))  # BatchNorm needs two films
        payload.update(spots=[None, None], theta=identity_theta(2))
        bundle.head.train()
        module("encoder", torch.rand(2, 1, 64, 64), payload, 4).backward()
        return bundle.head.detail.weight.grad[nodule].abs().sum()

    assert grad(Finding("nodule", presence=Presence.UNCERTAIN)) == 0
    assert grad() > 0
