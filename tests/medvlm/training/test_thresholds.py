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


def _record(i: int, labels: list[str], oversampled_for: str | None = None):  # type: ignore[no-untyped-def]
    from pathlib import Path

    from medvlm.findings import Finding
    from medvlm.training.manifest import Record

    provenance = {"oversampled_for": oversampled_for} if oversampled_for else {}
    findings = [Finding(label) for label in labels] or [Finding("no_finding")]
    return Record(f"S{i}", f"1.2.{i}", "train", [Path(f"{i}.dcm")], findings, provenance=provenance)


def test_the_floor_of_an_oversampled_finding_is_set_on_its_natural_prior() -> None:
    """A build that renders rare findings again (--min-positives) raises their share of the training films;
    the floor is meant for the natural prior, so it moves up by the log-odds ratio (docs/performance.md)."""
    from medvlm.ontology import load_ontology
    from medvlm.training.examples import findings_targets
    from medvlm.training.stage_metrics import oversampled, prior_shifts, shifted_floor

    def shifts_of(records: list) -> dict[str, float]:
        presence = findings_targets(records, slots)["presence"]
        return prior_shifts(presence, [oversampled(r) for r in records], slots)

    slots = [load_ontology().get(n) for n in ("pneumothorax", "cardiomegaly")]
    natural = [_record(i, ["pneumothorax"] if i < 10 else ["cardiomegaly"] if i < 110 else [])
               for i in range(1000)]  # 1 % pneumothorax, 10 % cardiomegaly
    extra = [_record(1000 + i, ["pneumothorax"], oversampled_for="pneumothorax") for i in range(90)]
    shifts = shifts_of(natural + extra)
    # pneumothorax 100 of 1,090 films against 10 of 1,000: log(100/990) - log(10/990)
    assert abs(shifts["pneumothorax"] - np.log(10.0)) < 1e-3
    assert shifts["cardiomegaly"] < 0  # diluted by the extra films, so its floor would fall slightly
    assert shifts_of(natural) == {}  # nothing oversampled: nothing to correct
    assert abs(shifted_floor(0.9, 0.0) - 0.9) < 1e-12
    assert abs(shifted_floor(0.9, np.log(9.0)) - 81 / 82) < 1e-9  # odds 9 -> 81
    truth = np.array([0, 0, 0, 0, 1, 1])
    probs = np.array([0.1, 0.2, 0.3, 0.4, 0.95, 0.99])
    floor = shifted_floor(0.9, np.log(9.0))
    assert finding_threshold(truth, probs, 0.5, min_positives=20, floor=floor) == floor


def test_a_corrections_run_puts_its_floor_on_the_replayed_datas_natural_prior() -> None:
    """The corrections stage re-tunes thresholds of a model trained on oversampled films; its replay pool
    tells by how much each finding was oversampled, the same rule as training's."""
    from medvlm.ontology import load_ontology
    from medvlm.training.stage_metrics import record_prior_shifts

    slots = [load_ontology().get(n) for n in ("pneumothorax", "cardiomegaly")]
    natural = [_record(i, ["pneumothorax"] if i < 10 else []) for i in range(1000)]
    extra = [_record(1000 + i, ["pneumothorax"], oversampled_for="pneumothorax") for i in range(90)]
    shifts = record_prior_shifts(natural + extra, slots)
    assert abs(shifts["pneumothorax"] - np.log(10.0)) < 1e-3
    assert record_prior_shifts(natural, slots) == {} and record_prior_shifts([], slots) == {}
