"""Presence thresholds tuned for F-beta: beta < 1 trades omissions for fewer hallucinated findings."""

from __future__ import annotations

import numpy as np

from medvlm.training.stage_metrics import fbeta_threshold, finding_threshold


def _scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    truth = (rng.random(2000) < 0.15).astype(np.int64)
    probs = np.clip(0.35 + 0.3 * truth + rng.normal(0, 0.15, truth.size), 0, 1)
    return truth, probs


def _precision_recall(truth: np.ndarray, probs: np.ndarray, t: float) -> tuple[float, float]:
    pred = probs >= t
    tp = float((pred & (truth == 1)).sum())
    return tp / max(float(pred.sum()), 1.0), tp / float(truth.sum())


def test_lower_beta_raises_the_cut_and_the_precision() -> None:
    truth, probs = _scores()
    f1_cut, f05_cut, f2_cut = (fbeta_threshold(truth, probs, b) for b in (1.0, 0.5, 2.0))
    assert f2_cut < f1_cut < f05_cut
    p1, r1 = _precision_recall(truth, probs, f1_cut)
    p05, r05 = _precision_recall(truth, probs, f05_cut)
    assert p05 > p1 and r05 < r1


def test_separable_scores_get_a_cut_between_the_classes() -> None:
    truth = np.array([0, 0, 0, 1, 1])
    probs = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    cut = fbeta_threshold(truth, probs, 0.5)
    assert 0.3 < cut <= 0.8


def test_a_finding_with_few_eval_positives_gets_at_least_the_floor() -> None:
    truth = np.array([0, 0, 0, 0, 1, 1])
    probs = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    cut = fbeta_threshold(truth, probs, 0.5)
    assert cut < 0.9
    assert finding_threshold(truth, probs, 0.5, min_positives=3, floor=0.9) == 0.9
    assert finding_threshold(truth, probs, 0.5, min_positives=2, floor=0.9) == cut  # enough positives
    assert finding_threshold(truth, probs, 0.5) == cut  # off by default


def test_a_finding_without_eval_positives_gets_the_floor_or_one_half() -> None:
    truth, probs = np.zeros(4, dtype=np.int64), np.array([0.1, 0.5, 0.7, 0.9])
    assert finding_threshold(truth, probs, 0.5) == 0.5
    assert finding_threshold(truth, probs, 0.5, min_positives=20, floor=0.9) == 0.9


def test_a_finding_the_model_cannot_tell_apart_gets_the_floor_not_every_film() -> None:
    """At chance, F-beta's best cut is the lowest (every film called: precision = the base rate, recall 1);
    a tiny model at chance on granulomas stated one in 948 of 953 drafts. The floor keeps it out."""
    rng = np.random.default_rng(1)
    truth = (rng.random(2000) < 0.15).astype(np.int64)
    probs = rng.random(truth.size)  # no skill
    assert fbeta_threshold(truth, probs, 0.5) <= 0.2  # calls 80 % of the films or more
    assert finding_threshold(truth, probs, 0.5, floor=0.9) == 0.9
    skilled_truth, skilled = _scores()  # the same base rate, scores that separate
    cut = fbeta_threshold(skilled_truth, skilled, 0.5)
    assert cut < 0.9 and finding_threshold(skilled_truth, skilled, 0.5, floor=0.9) == cut
