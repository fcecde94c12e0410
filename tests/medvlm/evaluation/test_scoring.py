"""Scoring drafts against ground truth, on hand-made cases (no model needed)."""

from __future__ import annotations

import pytest

from medvlm.evaluation.scoring import (
    guard_change_causes,
    guard_changed,
    score_findings,
    score_reports,
    truth_matrix,
    verdict,
)
from medvlm.findings import Finding, Laterality, Presence

NAMES = ["no_finding", "cardiomegaly", "pleural_effusion"]


def _predicted(probs: list[float], decided: list[bool] | None = None) -> list[Finding]:
    decided = decided or [p >= 0.5 for p in probs]
    return [Finding(n, presence=Presence.PRESENT if d else Presence.ABSENT, probability=p)
            for n, p, d in zip(NAMES, probs, decided, strict=True)]


def test_truth_matrix_derives_no_finding() -> None:
    truth = [[Finding("cardiomegaly")], [], [Finding("pleural_effusion", presence=Presence.UNCERTAIN)],
             [Finding("no_finding")]]
    assert truth_matrix(NAMES, truth).tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0]]


def test_score_findings_hand_case() -> None:
    truth = [[Finding("cardiomegaly")], [], [Finding("pleural_effusion")], [Finding("cardiomegaly")]]
    predicted = [_predicted([0.1, 0.9, 0.2]), _predicted([0.8, 0.3, 0.1]),
                 _predicted([0.2, 0.6, 0.7]), _predicted([0.3, 0.4, 0.4])]
    metrics, curves = score_findings(NAMES, predicted, truth)
    per = metrics["findings.per_finding"]
    assert per["no_finding"]["auroc"] == pytest.approx(1.0)
    # cardiomegaly: positives 0.9, 0.4; negatives 0.3, 0.6 -> pairs won 0.9>0.3, 0.9>0.6, 0.4>0.3 -> 3/4
    assert per["cardiomegaly"]["auroc"] == pytest.approx(0.75)
    # cardiomegaly decided 1,0,1,0 vs truth 1,0,0,1 -> tp1 fp1 fn1 -> 0.5
    assert per["cardiomegaly"]["f1"] == pytest.approx(0.5)
    assert per["pleural_effusion"] == {"auroc": pytest.approx(1.0), "auroc_ci": (1.0, 1.0),
                                       "f1": pytest.approx(1.0), "support": 1, "predicted": 1}
    lo, hi = metrics["findings.macro_auroc_ci"]
    assert lo <= metrics["findings.macro_auroc"] <= hi
    assert metrics["findings.macro_auroc"] == pytest.approx((1.0 + 0.75 + 1.0) / 3)
    assert metrics["findings.macro_f1"] == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    assert 0 <= metrics["findings.ece"] <= 1
    assert set(curves) == set(NAMES)


def test_model_thresholds_decide_f1() -> None:
    truth = [[Finding("cardiomegaly")], []]
    # probability 0.3 but the model's tuned threshold said present: F1 follows the model's decision
    predicted = [_predicted([0.1, 0.3, 0.1], [False, True, False]), _predicted([0.9, 0.1, 0.1])]
    metrics, _ = score_findings(NAMES, predicted, truth)
    assert metrics["findings.per_finding"]["cardiomegaly"]["f1"] == pytest.approx(1.0)


def test_score_findings_needs_probabilities() -> None:
    with pytest.raises(ValueError, match="lack probabilities"):
        score_findings(NAMES, [[Finding("cardiomegaly")]], [[]])


def test_score_reports_hand_case() -> None:
    references = [("Small left pleural effusion.", "Left effusion."), ("Heart size is normal.", "Normal.")]
    truth = [[Finding("pleural_effusion", laterality=Laterality.LEFT)], []]
    perfect = score_reports(references, references, references, truth)
    assert perfect["report.ce_f1"] == pytest.approx(1.0) and perfect["report.bleu4"] == pytest.approx(1.0)
    assert perfect["report.rouge_l"] == pytest.approx(1.0) and perfect["report.chrf"] == pytest.approx(1.0)
    assert perfect["report.hallucination_rate"] == 0 and perfect["report.omission_rate"] == 0
    assert perfect["report.guard_changed"] == 0
    own = [("Moderate cardiomegaly.", "Cardiomegaly."), ("Heart size is normal.", "Normal.")]
    scored = score_reports(own, references, references, truth)
    # the model's own text (the headline): cardiomegaly hallucinated in draft 1, effusion omitted
    assert scored["report.ce_f1"] == pytest.approx(0.0)
    assert scored["report.hallucination_rate"] == pytest.approx(0.5)
    assert scored["report.omission_rate"] == pytest.approx(1.0)
    assert scored["report.guarded.ce_f1"] == pytest.approx(1.0)  # the guarded drafts are the references
    assert scored["report.guard_changed"] == pytest.approx(0.5)
    per = scored["report.per_finding"]
    assert per["cardiomegaly"] == {"precision": 0.0, "recall": None, "f1": 0.0, "support": 0, "stated": 1}
    assert per["pleural_effusion"]["recall"] == 0.0 and "no_finding" not in per


def test_guard_change_causes_count_changed_drafts_by_repair_kind() -> None:
    own = [("The XXXX are intact.", "Normal."), ("Cardiomegaly.", "Cardiomegaly."), ("Clear.", "Normal."),
           ("No effusion.", "No effusion.")]
    guarded = [("", "Normal."), ("", "No acute disease."), ("Clear.", "No acute disease."),
               ("No  effusion.", "No effusion.")]  # the last differs in whitespace only: unchanged
    kinds = [["unparsed"], ["hallucination", "unparsed"], [], ["omission"]]
    causes = guard_change_causes(own, guarded, kinds)
    assert causes == {"unparsed": 0.5, "hallucination": 0.25, "other": 0.25}
    assert list(causes) == ["unparsed", "hallucination", "other"]  # commonest first
    assert guard_changed(own, guarded) == [True, True, True, False]
    with pytest.raises(ValueError, match="lists of repairs"):
        guard_change_causes(own, guarded, kinds[:2])


def test_prompt_agreement_scores_the_text_against_its_findings_prompt_not_the_truth() -> None:
    """A draft that says exactly what its (wrong) findings prompt says agrees fully with the prompt while
    scoring 0 against the truth: the text is faithful, the classifier was wrong."""
    references = [("Small left pleural effusion.", "Left effusion."), ("Heart size is normal.", "Normal.")]
    truth = [[Finding("pleural_effusion", laterality=Laterality.LEFT)], []]
    own = [("Moderate cardiomegaly.", "Cardiomegaly."), ("The heart is enlarged. Right pneumothorax.", "")]
    prompted = [[Finding("cardiomegaly")], [Finding("cardiomegaly")]]
    scored = score_reports(own, own, references, truth, prompted=prompted)
    assert scored["report.ce_f1"] == pytest.approx(0.0)
    # draft 1 states its prompt exactly; draft 2 adds a pneumothorax: tp 2, fp 1 -> F1 4/5, 0.5 per draft
    assert scored["report.prompt_f1"] == pytest.approx(0.8)
    assert scored["report.prompt_additions"] == pytest.approx(0.5)
    assert "report.prompt_f1" not in score_reports(own, own, references, truth)
    with pytest.raises(ValueError, match="findings prompts"):
        score_reports(own, own, references, truth, prompted=prompted[:1])


def test_macro_ce_f1_counts_findings_with_enough_positives() -> None:
    truth = [[Finding("pleural_effusion")], [Finding("pleural_effusion")], [Finding("cardiomegaly")]]
    own = [("Small left pleural effusion.", ""), ("No effusion.", ""), ("Moderate cardiomegaly.", "")]
    scored = score_reports(own, own, own, truth, min_support=2)
    # effusion: tp1 fn1 -> F1 2/3; cardiomegaly (1 positive) is left out of the macro
    assert scored["report.ce_f1_macro"] == pytest.approx(2 / 3)
    assert scored["report.ce_f1_macro_over"] == ["pleural_effusion"]
    assert scored["report.ce_f1"] == pytest.approx(2 * 2 / (2 * 2 + 0 + 1))


@pytest.mark.parametrize(
    ("own", "retrieval", "beats"),
    [((0.8, 0.05), (0.6, 0.2), True), ((0.5, 0.05), (0.6, 0.2), False), ((0.8, 0.3), (0.6, 0.2), False),
     ((0.8, 0.0), (0.6, 0.0), True), ((0.6, 0.0), (0.6, 0.1), False)],
)
def test_verdict_says_plainly_when_retrieval_is_not_beaten(
    own: tuple[float, float], retrieval: tuple[float, float], beats: bool
) -> None:
    text = verdict({"ce_f1": own[0], "hallucination_rate": own[1]},
                   {"ce_f1": retrieval[0], "hallucination_rate": retrieval[1]})
    assert text.startswith("the model's own text beats retrieval") is beats
    assert ("NOT A REPORT GENERATOR" in text) is (not beats)


def test_baselines_are_scored_beside_the_model() -> None:
    references = [("Small left pleural effusion.", ""), ("Heart size is normal.", "")]
    truth = [[Finding("pleural_effusion")], []]
    normal = [("The lungs are clear.", "No acute cardiopulmonary abnormality.")] * 2
    scored = score_reports(references, references, references, truth, {"normal": normal, "retrieval": normal})
    assert scored["baseline.normal.ce_f1"] == pytest.approx(0.0)
    assert scored["baseline.normal.omission_rate"] == pytest.approx(1.0)
    assert scored["report.verdict"].startswith("the model's own text beats retrieval")


def test_score_reports_refuses_mismatched_lists() -> None:
    with pytest.raises(ValueError, match="one of each per study"):
        score_reports([("a", "")], [], [("a", "")], [[]])


def test_the_supported_macro_auroc_leaves_out_findings_with_few_positives() -> None:
    """Cardiomegaly has 10 positives and is ranked at chance-ish; effusion has 1, ranked perfectly by luck:
    the plain macro rises with effusion, the supported one reads cardiomegaly (and no_finding) only."""
    from medvlm.registry.gate import FINDING_MIN_POSITIVES

    n = 2 * FINDING_MIN_POSITIVES + 1
    truth = [[Finding("cardiomegaly")] if i < FINDING_MIN_POSITIVES else [] for i in range(n - 1)]
    truth.append([Finding("pleural_effusion")])
    predicted = [_predicted([0.5, 0.3 + 0.02 * (i % 7), 0.9 if i == n - 1 else 0.1]) for i in range(n)]
    metrics, _ = score_findings(NAMES, predicted, truth)
    per = metrics["findings.per_finding"]
    assert per["pleural_effusion"]["auroc"] == pytest.approx(1.0)
    supported = [per[name]["auroc"] for name in NAMES if per[name]["support"] >= FINDING_MIN_POSITIVES]
    assert len(supported) == 2  # no_finding and cardiomegaly
    assert metrics["findings.macro_auroc_supported"] == pytest.approx(sum(supported) / 2)
    assert metrics["findings.macro_auroc"] > metrics["findings.macro_auroc_supported"]
