"""CE-F1, hallucination and omission rates against cases computed by hand."""

from __future__ import annotations

import pytest

from medvlm.evaluation.clinical import clinical_scores, positive_labels
from medvlm.findings import Finding, Presence

S = frozenset


def test_positive_labels_keep_present_and_uncertain_only() -> None:
    findings = [
        Finding("effusion"),
        Finding("pneumonia", presence=Presence.UNCERTAIN),
        Finding("pneumothorax", presence=Presence.ABSENT),
        Finding("no_finding"),
    ]
    assert positive_labels(findings) == S({"effusion", "pneumonia"})


@pytest.mark.parametrize(
    ("stated", "truth", "f1", "halluc", "with_halluc", "omission"),
    [
        # perfect
        ([S({"a"}), S()], [S({"a"}), S()], 1.0, 0.0, 0.0, 0.0),
        # draft 1 states a,b (b hallucinated); draft 2 omits c: tp1 fp1 fn1 -> F1 0.5
        ([S({"a", "b"}), S()], [S({"a"}), S({"c"})], 0.5, 0.5, 0.5, 0.5),
        # two hallucinations in one draft of two: rate 1.0 per draft, share 0.5
        ([S({"x", "y"}), S()], [S(), S()], 0.0, 1.0, 0.5, 0.0),
        # nothing stated, nothing true: agreement
        ([S(), S()], [S(), S()], 1.0, 0.0, 0.0, 0.0),
        # everything omitted
        ([S(), S()], [S({"a"}), S({"a", "b"})], 0.0, 0.0, 0.0, 1.0),
    ],
)
def test_clinical_hand_cases(stated, truth, f1, halluc, with_halluc, omission) -> None:  # type: ignore[no-untyped-def]
    scores = clinical_scores(stated, truth)
    assert scores.ce_f1 == pytest.approx(f1)
    assert scores.hallucination_rate == pytest.approx(halluc)
    assert scores.drafts_with_hallucination == pytest.approx(with_halluc)
    assert scores.omission_rate == pytest.approx(omission)
    assert scores.as_metrics()["report.ce_f1"] == pytest.approx(f1)


@pytest.mark.parametrize(("stated", "truth"), [([], []), ([S()], [S(), S()])])
def test_clinical_rejects_bad_lists(stated, truth) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        clinical_scores(stated, truth)
