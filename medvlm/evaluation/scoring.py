"""Score drafts against a dataset's ground truth: the numbers that go into ``metrics.json``.

Keys are flat, as in the model card (``findings.macro_auroc``, ``report.ce_f1``, ...). Report metrics are
given for the delivered drafts (after the guard) and, under ``report.raw.*``, for the model's own text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medvlm.evaluation.classification import expected_calibration_error, macro, roc_points, score_labels
from medvlm.evaluation.clinical import clinical_scores, positive_labels
from medvlm.evaluation.text import corpus_bleu, mean_rouge_l
from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.ontology import Ontology, load_ontology

DEFINITIONS = {
    "findings.macro_auroc": "mean per-finding AUROC over findings whose truth has both classes",
    "findings.macro_f1": "mean per-finding F1 at the model's thresholds over findings with a true or "
                         "predicted positive",
    "findings.ece": "expected calibration error over every (study, finding) probability, 10 equal bins",
    "report.bleu4": "corpus BLEU-4 of findings+impression against the reference report, no smoothing",
    "report.rouge_l": "mean ROUGE-L F1 of findings+impression against the reference report",
    "report.ce_f1": "micro F1 of positive findings the labeler reads in the draft vs the ground truth "
                    "(no_finding excluded)",
    "report.hallucination_rate": "positive findings stated in drafts that the truth lacks, per draft",
    "report.omission_rate": "truth positives the draft omits or negates, over all truth positives",
    "report.raw.*": "the same for the model's text before the consistency guard",
}


def truth_matrix(names: Sequence[str], truth: Sequence[Sequence[Finding]]) -> np.ndarray:
    """(studies x findings) 0/1; uncertain counts as positive; ``no_finding`` is positive when listed or
    when no other finding is."""
    rows = []
    for findings in truth:
        positive = {f.label for f in findings if f.presence in (Presence.PRESENT, Presence.UNCERTAIN)}
        if not positive - {NO_FINDING}:
            positive.add(NO_FINDING)
        rows.append([int(name in positive) for name in names])
    return np.asarray(rows, dtype=np.int64).reshape(len(truth), len(names))


def probability_matrix(names: Sequence[str], predicted: Sequence[Sequence[Finding]]) -> np.ndarray:
    rows = []
    for findings in predicted:
        by = {f.label: f for f in findings}
        missing = [n for n in names if n not in by or by[n].probability is None]
        if missing:
            raise ValueError(f"predicted findings lack probabilities for {missing}")
        rows.append([float(by[n].probability) for n in names])  # type: ignore[arg-type]
    return np.asarray(rows, dtype=np.float64).reshape(len(predicted), len(names))


def predicted_matrix(names: Sequence[str], predicted: Sequence[Sequence[Finding]]) -> np.ndarray:
    rows = [[int(any(f.label == n and f.presence != Presence.ABSENT for f in fs)) for n in names]
            for fs in predicted]
    return np.asarray(rows, dtype=np.int64).reshape(len(predicted), len(names))


def _f1_from_predictions(truth: np.ndarray, pred: np.ndarray) -> list[float | None]:
    out: list[float | None] = []
    for j in range(truth.shape[1]):
        t, p = truth[:, j], pred[:, j]
        tp, fp, fn = int((t & p).sum()), int(((1 - t) & p).sum()), int((t & (1 - p)).sum())
        out.append(None if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn))
    return out


def score_findings(names: Sequence[str], predicted: Sequence[Sequence[Finding]],
                   truth: Sequence[Sequence[Finding]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Findings-head metrics, and ROC points per finding (for the HTML report)."""
    t = truth_matrix(names, truth)
    p = probability_matrix(names, predicted)
    decided = predicted_matrix(names, predicted)  # the model's own per-label thresholds decided presence
    scores = score_labels(names, t, p)
    f1s = _f1_from_predictions(t, decided)
    per_finding = {
        s.label: {"auroc": s.auroc, "f1": f1, "support": s.support, "predicted": int(decided[:, j].sum())}
        for j, (s, f1) in enumerate(zip(scores, f1s, strict=True))
    }
    metrics = {
        "findings.macro_auroc": macro([s.auroc for s in scores]),
        "findings.macro_f1": macro(f1s),
        "findings.per_finding": per_finding,
        "findings.ece": expected_calibration_error(t.ravel(), p.ravel()),
    }
    curves = {name: roc_points(t[:, j], p[:, j]) for j, name in enumerate(names)}
    return metrics, {k: v for k, v in curves.items() if v is not None}


def _stated(texts: Sequence[str], ontology: Ontology) -> list[frozenset[str]]:
    from medvlm.labeler import label_report

    return [positive_labels(label_report(text, ontology)) for text in texts]


def score_reports(drafts: Sequence[tuple[str, str]], raw: Sequence[tuple[str, str]],
                  references: Sequence[tuple[str, str]], truth: Sequence[Sequence[Finding]],
                  ontology: Ontology | None = None) -> dict[str, float]:
    """Text and clinical-efficacy metrics; each draft and reference is (findings section, impression)."""
    ontology = ontology or load_ontology()
    join = [f"{a} {b}".strip() for a, b in drafts]
    refs = [f"{a} {b}".strip() for a, b in references]
    truth_sets = [positive_labels(f) for f in truth]
    metrics: dict[str, float] = {"report.bleu4": corpus_bleu(join, refs)}
    metrics["report.rouge_l"] = mean_rouge_l(join, refs)
    metrics.update(clinical_scores(_stated(join, ontology), truth_sets).as_metrics())
    raw_join = [f"{a} {b}".strip() for a, b in raw]
    raw_scores = clinical_scores(_stated(raw_join, ontology), truth_sets).as_metrics()
    metrics.update({k.replace("report.", "report.raw."): v for k, v in raw_scores.items()})
    metrics["report.raw.bleu4"] = corpus_bleu(raw_join, refs)
    metrics["report.raw.rouge_l"] = mean_rouge_l(raw_join, refs)
    return metrics
