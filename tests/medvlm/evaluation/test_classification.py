"""Findings metrics against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from medvlm.evaluation.classification import (
    auroc,
    auroc_interval,
    expected_calibration_error,
    f1,
    macro,
    macro_auroc_interval,
    roc_points,
    score_labels,
)


@pytest.mark.parametrize(
    ("truth", "probs", "expected"),
    [
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),  # pairs (pos>neg): 0.35>0.1, 0.8>both -> 3/4
        ([0, 1], [0.2, 0.9], 1.0),
        ([0, 1], [0.9, 0.2], 0.0),
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),  # all ties count one half
        ([1, 1, 1], [0.2, 0.3, 0.4], None),  # one class: undefined
        ([], [], None),
    ],
)
def test_auroc_hand_cases(truth: list[int], probs: list[float], expected: float | None) -> None:
    got = auroc(truth, probs)
    assert got == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("truth", "pred", "expected"),
    [
        ([1, 1, 0, 0], [1, 0, 1, 0], 0.5),  # tp=1 fp=1 fn=1 -> 2/4
        ([1, 1, 1, 0], [1, 1, 1, 0], 1.0),
        ([1, 0], [0, 1], 0.0),
        ([0, 0], [0, 0], None),  # nothing to score
        ([0, 0, 1], [1, 1, 1], 0.5),  # tp=1 fp=2 -> 2/(2+2)
    ],
)
def test_f1_hand_cases(truth: list[int], pred: list[int], expected: float | None) -> None:
    got = f1(truth, pred)
    assert got == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("truth", "probs", "expected"),
    [
        # bin [0.2,0.3): probs 0.2,0.2 truth 0,0 -> |0-0.2|*0.5 ; bin [0.8,0.9): 0.8,0.8 truth 1,1 -> 0.2*0.5
        ([0, 0, 1, 1], [0.2, 0.2, 0.8, 0.8], 0.2),
        ([1, 0], [1.0, 0.0], 0.0),  # perfect and sharp; 1.0 falls in the last bin
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.0),  # calibrated coin
        ([1, 1], [0.3, 0.3], 0.7),
    ],
)
def test_ece_hand_cases(truth: list[int], probs: list[float], expected: float) -> None:
    assert expected_calibration_error(truth, probs) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("truth", "probs", "message"),
    [
        ([0, 1], [0.5], "differ in length"),
        ([0, 2], [0.5, 0.5], "0/1"),
        ([0, 1], [0.5, 1.5], r"\[0, 1\]"),
        ([0, 1], [0.5, math.nan], r"\[0, 1\]"),
    ],
)
def test_bad_inputs_are_named(truth: list[int], probs: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        auroc(truth, probs)


def test_ece_needs_predictions() -> None:
    with pytest.raises(ValueError, match="at least one"):
        expected_calibration_error([], [])


def test_score_labels_and_macro() -> None:
    truth = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 1], [0, 0, 0]])
    probs = np.array([[0.9, 0.1, 0.2], [0.2, 0.6, 0.7], [0.7, 0.2, 0.4], [0.1, 0.1, 0.6]])
    scores = score_labels(["a", "b", "c"], truth, probs)
    by = {s.label: s for s in scores}
    assert by["a"].auroc == pytest.approx(1.0) and by["a"].f1 == pytest.approx(1.0)
    assert by["b"].auroc is None  # no positive in truth
    assert by["b"].f1 == pytest.approx(0.0) and by["b"].predicted == 1  # a false positive still costs
    # c: pos probs 0.7, 0.4; neg 0.2, 0.6 -> pairs won: 0.7>0.2,0.7>0.6,0.4>0.2 -> 3/4
    assert by["c"].auroc == pytest.approx(0.75)
    # c at 0.5: pred 0,1,0,1 vs truth 0,1,1,0 -> tp1 fp1 fn1 -> 0.5
    assert by["c"].f1 == pytest.approx(0.5)
    assert macro([s.auroc for s in scores]) == pytest.approx((1.0 + 0.75) / 2)
    assert macro([None, None]) is None


def test_score_labels_rejects_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="studies x 2"):
        score_labels(["a", "b"], np.zeros((3, 3)), np.zeros((3, 3)))


def test_roc_points_span_the_square() -> None:
    fpr, tpr = roc_points([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert fpr[0] == 0.0 and tpr[0] == 0.0 and fpr[-1] == 1.0 and tpr[-1] == 1.0
    assert roc_points([1, 1], [0.2, 0.4]) is None


def test_the_bootstrap_auroc_matches_sklearn_and_its_interval_narrows_with_more_cases() -> None:
    from sklearn.metrics import roc_auc_score

    from medvlm.evaluation.classification import _mann_whitney

    rng = np.random.default_rng(1)
    intervals = []
    for n in (20, 2000):
        truth = rng.integers(0, 2, n)
        truth[:2] = (0, 1)
        probs = np.clip(0.5 + 0.15 * (truth - 0.5) + rng.normal(0, 0.2, n), 0, 1).round(2)  # with ties
        assert _mann_whitney(truth, probs) == pytest.approx(roc_auc_score(truth, probs))
        lo, hi = auroc_interval(truth, probs)
        assert lo <= auroc(truth, probs) <= hi
        intervals.append(hi - lo)
    assert intervals[1] < intervals[0] / 3  # ~1/sqrt(100) as wide
    assert auroc_interval([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == (1.0, 1.0)  # separated in every resample
    assert auroc_interval([1, 1], [0.2, 0.3]) is None
    assert auroc_interval(truth, probs, seed=3) == auroc_interval(truth, probs, seed=3)


def test_the_macro_interval_resamples_studies_and_leaves_out_uncertain_labels() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 2, (300, 3))
    probs = np.clip(truth * 0.3 + rng.uniform(0, 0.7, (300, 3)), 0, 1)
    known = np.ones_like(truth, dtype=bool)
    known[:, 2] = False  # a label nobody was sure of: out of the macro, as in ``macro``
    point = macro([auroc(truth[:, j], probs[:, j]) for j in range(2)])
    lo, hi = macro_auroc_interval(truth, probs, known)
    assert lo <= point <= hi < 1.0
    assert macro_auroc_interval(truth[:, :2], probs[:, :2]) == (lo, hi)
    with pytest.raises(ValueError, match="matching"):
        macro_auroc_interval(truth, probs[:, :2])
