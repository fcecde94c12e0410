"""Score drafts against a dataset's ground truth: the numbers that go into ``metrics.json``.

Keys are flat, as in the model card (``findings.macro_auroc``, ``report.ce_f1``, ...). ``report.*`` scores
the model's own text (guard off; the same definition as training's ``report.ce_f1``), ``report.guarded.*``
the delivered drafts, ``baseline.<name>.*`` the baselines of ``medvlm.evaluation.baselines``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medvlm.evaluation.classification import (
    expected_calibration_error,
    f1,
    known_only,
    macro,
    macro_auroc_interval,
    roc_points,
    score_labels,
    supported_macro,
)
from medvlm.evaluation.clinical import (
    clinical_scores,
    macro_ce_f1,
    per_finding_ce,
    positive_labels,
    prompt_agreement,
)
from medvlm.evaluation.text import corpus_bleu, corpus_chrf, mean_rouge_l
from medvlm.findings import NO_FINDING, Finding, Presence
from medvlm.ontology import Ontology, load_ontology
from medvlm.registry.gate import FINDING_MIN_POSITIVES

# Findings with fewer truth positives are left out of the macro CE-F1 (their F1 is noise): the same floor
# as the supported macro AUROC and the promotion gate.
MIN_SUPPORT = FINDING_MIN_POSITIVES

DEFINITIONS = {
    "findings.macro_auroc": "mean per-finding AUROC over findings whose truth has both classes",
    "findings.macro_auroc_supported": f"mean per-finding AUROC over findings with at least "
    f"{FINDING_MIN_POSITIVES} positives in the split (one with 2 positives moves the plain macro by chance)",
    "findings.macro_auroc_ci": "95 % percentile-bootstrap interval of the macro AUROC (studies resampled, "
                               "1000 times); each finding's ``auroc_ci`` resamples its positives and "
                               "negatives apart",
    "findings.macro_f1": "mean per-finding F1 at the model's thresholds over findings with a true or "
                         "predicted positive",
    "findings.ece": "expected calibration error over every (study, finding) probability, 10 equal bins",
    "findings.side_accuracy": "of the true positives whose truth and call both name a side (left, right, "
                              "bilateral), the share called on the true side; ``side_baseline_right``: "
                              "the share a constant 'right' would get",
    "report.*": "the model's own text (guard off): the headline report-generation figures",
    "report.guarded.*": "the same for the delivered draft, after the consistency guard",
    "report.guard_changed": "share of drafts whose text the guard changed",
    "report.guard_changed_by": "share of drafts the guard changed with a repair of each kind (unparsed: a "
                               "sentence it could not read removed; other: no flagged repair, a repeated "
                               "sentence dropped or an empty section written)",
    "report.prompt_f1": "CE-F1 of the model's own text against the findings it was prompted with (the "
                        "model's predicted findings): the text alone, without the classifier's errors",
    "report.prompt_additions": "positive findings the own text states that its findings prompt lacks, "
                               "per report",
    "drafts.flagged": "share of drafts with a consistency flag from the guard",
    "drafts.unfamiliar": "share of drafts flagged as on a film stranger than 99 % of the model's training "
                         "films (input pixels or the tower's features; medvlm.inference.uncertainty)",
    "baseline.normal.*": "one fixed normal report for every study",
    "baseline.retrieval.*": "the report of the nearest train study by the model's own image embedding",
    "baseline.template.*": "the model's predicted findings written with the ontology's phrases",
    "*.bleu4": "corpus BLEU-4 of findings+impression against the reference report (sacrebleu, 13a, "
               "lower-cased, no smoothing)",
    "*.rouge_l": "mean ROUGE-L F1 of findings+impression against the reference report (rouge-score)",
    "*.chrf": "corpus chrF2 of findings+impression against the reference report (sacrebleu)",
    "*.ce_f1": "micro F1 of positive findings the labeler reads in the report vs the ground truth (the "
               "dataset's findings: IU MeSH tags for IU reports; no_finding excluded)",
    "*.ce_f1_macro": f"mean per-finding CE-F1 over findings with >= {MIN_SUPPORT} truth positives",
    "*.per_finding": "per finding: CE precision, recall, F1, truth positives (support), stated positives",
    "*.hallucination_rate": "positive findings stated in reports that the truth lacks, per report",
    "*.omission_rate": "truth positives the report omits or negates, over all truth positives",
    "report.verdict": "whether the model's own text beats retrieval on CE-F1 and hallucination",
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


def known_matrix(names: Sequence[str], truth: Sequence[Sequence[Finding]]) -> np.ndarray:
    """(studies x findings) bool: False where a finding is only uncertain (and ``no_finding`` of a study
    whose only findings are uncertain). The findings scores leave those out, as training does."""
    rows = []
    for findings in truth:
        sure = {f.label for f in findings if f.presence == Presence.PRESENT}
        doubtful = {f.label for f in findings if f.presence == Presence.UNCERTAIN} - sure
        if doubtful and not sure - {NO_FINDING}:
            doubtful.add(NO_FINDING)
        rows.append([name not in doubtful for name in names])
    return np.asarray(rows, dtype=bool).reshape(len(truth), len(names))


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


def _f1_from_predictions(truth: np.ndarray, pred: np.ndarray, known: np.ndarray) -> list[float | None]:
    return [f1(*known_only(truth[:, j], pred[:, j], known[:, j])) for j in range(truth.shape[1])]


def score_findings(names: Sequence[str], predicted: Sequence[Sequence[Finding]],
                   truth: Sequence[Sequence[Finding]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Findings-head metrics, and ROC points per finding (for the HTML report)."""
    t = truth_matrix(names, truth)
    k = known_matrix(names, truth)  # uncertain labels: neither positive nor negative in these scores
    p = probability_matrix(names, predicted)
    decided = predicted_matrix(names, predicted)  # the model's own per-label thresholds decided presence
    scores = score_labels(names, t, p, known=k)
    f1s = _f1_from_predictions(t, decided, k)
    per_finding = {
        s.label: {"auroc": s.auroc, "auroc_ci": s.auroc_ci, "f1": value, "support": s.support,
                  "predicted": int(decided[:, j].sum())}
        for j, (s, value) in enumerate(zip(scores, f1s, strict=True))
    }
    metrics = {
        "findings.macro_auroc": macro([s.auroc for s in scores]),
        "findings.macro_auroc_ci": macro_auroc_interval(t, p, k),
        "findings.macro_auroc_supported": supported_macro(
            [s.auroc for s in scores], [s.support for s in scores]
        ),
        "findings.macro_f1": macro(f1s),
        "findings.per_finding": per_finding,
        "findings.ece": expected_calibration_error(*known_only(t.ravel(), p.ravel(), k.ravel())),
    }
    curves = {name: roc_points(*known_only(t[:, j], p[:, j], k[:, j])) for j, name in enumerate(names)}
    return metrics, {k: v for k, v in curves.items() if v is not None}


def _stated(texts: Sequence[str], ontology: Ontology) -> list[frozenset[str]]:
    from medvlm.labeler import label_report

    return [positive_labels(label_report(text, ontology)) for text in texts]


def _joined(reports: Sequence[tuple[str, str]]) -> list[str]:
    return [f"{a} {b}".strip() for a, b in reports]


def score_report_set(reports: Sequence[tuple[str, str]], references: Sequence[tuple[str, str]],
                     truth_sets: Sequence[frozenset[str]], ontology: Ontology,
                     min_support: int = MIN_SUPPORT,
                     stated: Sequence[frozenset[str]] | None = None) -> dict[str, Any]:
    """Text and clinical-efficacy scores of one set of reports, keys without a prefix (``stated``: the
    labeler's positive sets of ``reports`` when the caller has them already)."""
    texts, refs = _joined(reports), _joined(references)
    stated = _stated(texts, ontology) if stated is None else stated
    clinical = clinical_scores(stated, truth_sets)
    per_finding = per_finding_ce(stated, truth_sets, ontology.names)
    out: dict[str, Any] = {k.removeprefix("report."): v for k, v in clinical.as_metrics().items()}
    out["ce_f1_macro"] = macro_ce_f1(per_finding, min_support)
    out["ce_f1_macro_over"] = sorted(k for k, v in per_finding.items()
                                     if int(v["support"] or 0) >= min_support)
    out["per_finding"] = per_finding
    out["bleu4"] = corpus_bleu(texts, refs)
    out["rouge_l"] = mean_rouge_l(texts, refs)
    out["chrf"] = corpus_chrf(texts, refs)
    return out


def verdict(own: dict[str, Any], retrieval: dict[str, Any] | None) -> str:
    """One plain sentence: does the model's own text beat retrieval on CE-F1 and on hallucination?"""
    if retrieval is None:
        return "no retrieval baseline was run (no train studies in the dataset)"
    better_f1 = own["ce_f1"] > retrieval["ce_f1"]
    fewer = own["hallucination_rate"] <= retrieval["hallucination_rate"]  # a tie at zero is not a loss
    figures = (f"CE-F1 {own['ce_f1']:.3f} vs {retrieval['ce_f1']:.3f}, hallucinated findings per draft "
               f"{own['hallucination_rate']:.3f} vs {retrieval['hallucination_rate']:.3f}")
    if better_f1 and fewer:
        return f"the model's own text beats retrieval on CE-F1 and on hallucination ({figures})"
    lost = " and ".join(n for n, ok in (("CE-F1", better_f1), ("hallucination", fewer)) if not ok)
    return (f"NOT A REPORT GENERATOR YET: the model's own text does not beat retrieval (the nearest train "
            f"study's report) on {lost} ({figures})")


def guard_changed(own: Sequence[tuple[str, str]], guarded: Sequence[tuple[str, str]]) -> list[bool]:
    """Per draft: did the guard change its text (whitespace aside)?"""
    return [" ".join(a.split()) != " ".join(b.split())
            for a, b in zip(_joined(own), _joined(guarded), strict=True)]


def guard_change_causes(own: Sequence[tuple[str, str]], guarded: Sequence[tuple[str, str]],
                        repair_kinds: Sequence[Sequence[str]]) -> dict[str, float]:
    """Share of all drafts the guard changed with a repair of each kind (``unparsed``: a sentence it could
    not read was removed; ``other``: no flagged repair, a repeated sentence dropped or an empty section
    written). A draft repaired for two kinds counts under both, so the shares may sum above
    ``guard_changed``."""
    if len(repair_kinds) != len(own):
        raise ValueError(f"{len(own)} own drafts but {len(repair_kinds)} lists of repairs")
    counts: dict[str, int] = {}
    for changed, kinds in zip(guard_changed(own, guarded), repair_kinds, strict=True):
        for kind in (set(kinds) or {"other"}) if changed else ():
            counts[kind] = counts.get(kind, 0) + 1
    return {kind: counts[kind] / len(own) for kind in sorted(counts, key=lambda k: (-counts[k], k))}


def score_reports(own: Sequence[tuple[str, str]], guarded: Sequence[tuple[str, str]],
                  references: Sequence[tuple[str, str]], truth: Sequence[Sequence[Finding]],
                  baselines: dict[str, Sequence[tuple[str, str]]] | None = None,
                  ontology: Ontology | None = None, min_support: int = MIN_SUPPORT,
                  prompted: Sequence[Sequence[Finding]] | None = None) -> dict[str, Any]:
    """Flat metrics: ``report.*`` the model's own text (the headline), ``report.guarded.*`` the delivered
    drafts after the guard, ``report.guard_changed`` the share of drafts the guard changed,
    ``baseline.<name>.*`` each baseline, ``report.verdict`` the comparison with retrieval, and with
    ``prompted`` (the findings each draft was prompted with) ``report.prompt_f1`` / ``prompt_additions``.
    Each report is (findings section, impression)."""
    if not (len(own) == len(guarded) == len(references) == len(truth)):
        raise ValueError(f"{len(own)} own drafts, {len(guarded)} guarded drafts, {len(references)} "
                         f"references and {len(truth)} ground truths: expected one of each per study")
    ontology = ontology or load_ontology()
    truth_sets = [positive_labels(f) for f in truth]
    sets = {"report": own, "report.guarded": guarded}
    sets.update({f"baseline.{name}": reports for name, reports in (baselines or {}).items()})
    metrics: dict[str, Any] = {}
    own_stated = _stated(_joined(own), ontology)  # labelled once: scored below and against the prompts
    scored = {}
    for prefix, reports in sets.items():
        scored[prefix] = score_report_set(reports, references, truth_sets, ontology, min_support,
                                          own_stated if prefix == "report" else None)
        metrics.update({f"{prefix}.{k}": v for k, v in scored[prefix].items()})
    metrics["report.guard_changed"] = sum(guard_changed(own, guarded)) / len(own)
    if prompted is not None:
        if len(prompted) != len(own):
            raise ValueError(f"{len(own)} own drafts but {len(prompted)} findings prompts")
        metrics.update(prompt_agreement(own_stated, [positive_labels(f) for f in prompted]))
    metrics["report.verdict"] = verdict(scored["report"], scored.get("baseline.retrieval"))
    return metrics
