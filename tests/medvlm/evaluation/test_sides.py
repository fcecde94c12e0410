"""The side of a rightly called finding is scored on its own, beside a constant 'right'."""

from __future__ import annotations

from medvlm.evaluation.sides import side_agreement
from medvlm.findings import Finding, Laterality, Presence

L, R, B = Laterality.LEFT, Laterality.RIGHT, Laterality.BILATERAL


def _f(label: str, side: Laterality | None, presence: Presence = Presence.PRESENT) -> Finding:
    return Finding(label, presence=presence, laterality=side)


def test_sides_are_scored_on_true_positives_that_name_a_side() -> None:
    truth = [
        [_f("pneumothorax", R)],  # called right: agrees
        [_f("pneumothorax", L)],  # called right: disagrees
        [_f("pleural_effusion", B)],  # called bilateral: agrees
        [_f("nodule", L)],  # not called: no pair (presence is scored elsewhere)
        [_f("mass", R)],  # called without a side: no pair
        [_f("atelectasis", None)],  # truth names no side: no pair
    ]
    called = [
        [_f("pneumothorax", R)],
        [_f("pneumothorax", R)],
        [_f("pleural_effusion", B)],
        [_f("nodule", L, Presence.ABSENT)],
        [_f("mass", None)],
        [_f("atelectasis", L)],
    ]
    m = side_agreement(called, truth)
    assert m["findings.side_pairs"] == 3
    assert m["findings.side_accuracy"] == round(2 / 3, 4)
    assert m["findings.side_baseline_right"] == round(1 / 3, 4)
    assert m["findings.side_per_finding"] == {
        "pleural_effusion": {"pairs": 1, "agree": 1},
        "pneumothorax": {"pairs": 2, "agree": 1},
    }


def test_no_sided_pair_gives_no_accuracy() -> None:
    m = side_agreement([[_f("cardiomegaly", None)]], [[_f("cardiomegaly", None)]])
    assert m["findings.side_pairs"] == 0 and m["findings.side_accuracy"] is None
