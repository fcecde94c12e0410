"""Clinical-efficacy metrics of drafts: what the report labeler reads in a draft against the truth.

Per draft, the labeler's positive statements (present or uncertain) form a set of labels, and the
ground truth's positive findings another. ``no_finding`` is left out: it summarises the others.

- CE-F1: micro F1 over (draft, label) pairs; 1.0 when neither side states any positive finding.
  ``per_finding_ce`` and ``macro_ce_f1`` give it per finding and as a mean over findings.
- hallucination rate: positive findings stated in drafts that the truth lacks, per draft
  (mean count; ``drafts_with_hallucination`` is the share of drafts with at least one).
- omission rate: truth positives that the draft does not state as positive (omitted or negated),
  over all truth positives (= 1 - CE recall); 0.0 when the truth has no positives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from medvlm.findings import NO_FINDING, Finding, Presence

SUMMARY_LABELS = frozenset({NO_FINDING})


def positive_labels(findings: Iterable[Finding]) -> frozenset[str]:
    return frozenset(
        f.label for f in findings
        if f.presence in (Presence.PRESENT, Presence.UNCERTAIN) and f.label not in SUMMARY_LABELS
    )


@dataclass(frozen=True)
class ClinicalScores:
    ce_precision: float
    ce_recall: float
    ce_f1: float
    hallucination_rate: float
    drafts_with_hallucination: float
    omission_rate: float
    drafts: int

    def as_metrics(self) -> dict[str, float]:
        return {
            "report.ce_f1": self.ce_f1,
            "report.ce_precision": self.ce_precision,
            "report.ce_recall": self.ce_recall,
            "report.hallucination_rate": self.hallucination_rate,
            "report.drafts_with_hallucination": self.drafts_with_hallucination,
            "report.omission_rate": self.omission_rate,
        }


def clinical_scores(stated: Sequence[frozenset[str]], truth: Sequence[frozenset[str]]) -> ClinicalScores:
    """Scores from per-draft positive label sets (``stated`` from the labeler, ``truth`` from the data)."""
    if len(stated) != len(truth):
        raise ValueError(f"{len(stated)} drafts but {len(truth)} ground truths")
    if not stated:
        raise ValueError("clinical scores need at least one draft")
    tp = fp = fn = 0
    with_hallucination = 0
    for s, t in zip(stated, truth, strict=True):
        tp += len(s & t)
        fp += len(s - t)
        fn += len(t - s)
        with_hallucination += bool(s - t)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return ClinicalScores(
        ce_precision=precision,
        ce_recall=recall,
        ce_f1=f1,
        hallucination_rate=fp / len(stated),
        drafts_with_hallucination=with_hallucination / len(stated),
        omission_rate=fn / (tp + fn) if tp + fn else 0.0,
        drafts=len(stated),
    )


def prompt_agreement(
    stated: Sequence[frozenset[str]], prompted: Sequence[frozenset[str]]
) -> dict[str, float]:
    """``report.prompt_f1``: CE-F1 of the drafts against the findings in their prompts;
    ``report.prompt_additions``: positive findings stated that the prompt lacks, per draft."""
    scores = clinical_scores(stated, prompted)
    return {"report.prompt_f1": scores.ce_f1, "report.prompt_additions": scores.hallucination_rate}


def per_finding_ce(stated: Sequence[frozenset[str]], truth: Sequence[frozenset[str]],
                   names: Sequence[str]) -> dict[str, dict[str, float | int | None]]:
    """Per finding: precision, recall and F1 of the drafts' positive statements against the truth
    (None where undefined: no stated / no true / neither), support (truth positives) and stated count."""
    if len(stated) != len(truth):
        raise ValueError(f"{len(stated)} drafts but {len(truth)} ground truths")
    out: dict[str, dict[str, float | int | None]] = {}
    for name in names:
        if name in SUMMARY_LABELS:
            continue
        tp = sum(name in s and name in t for s, t in zip(stated, truth, strict=True))
        n_stated = sum(name in s for s in stated)
        support = sum(name in t for t in truth)
        out[name] = {
            "precision": tp / n_stated if n_stated else None,
            "recall": tp / support if support else None,
            "f1": 2 * tp / (n_stated + support) if n_stated + support else None,
            "support": support,
            "stated": n_stated,
        }
    return out


def macro_ce_f1(per_finding: dict[str, dict[str, float | int | None]], min_support: int) -> float | None:
    """Mean per-finding F1 over findings with at least ``min_support`` truth positives (None if none)."""
    values = [float(v["f1"] or 0.0) for v in per_finding.values() if int(v["support"] or 0) >= min_support]
    return sum(values) / len(values) if values else None
