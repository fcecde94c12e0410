"""Whether a finding the model calls rightly is called on the right side.

Presence scores (AUROC, F1) ignore the side; a draft that says "left pneumothorax" on a right one is still
wrong where it matters. Scored over the true positives whose truth and call both name a side, beside the
trivial baseline of always saying "right" (the side most IU reports of a one-sided finding name).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medvlm.findings import Finding, Presence


def _sides(findings: Sequence[Finding]) -> dict[str, str]:
    return {f.label: f.laterality.value for f in findings if f.presence == Presence.PRESENT and f.laterality}


def side_agreement(
    predicted: Sequence[Sequence[Finding]], truth: Sequence[Sequence[Finding]]
) -> dict[str, Any]:
    """``findings.side_accuracy`` (share of sided true positives called on the true side, None without
    any), ``findings.side_pairs`` (how many), ``findings.side_baseline_right`` (the share a constant
    "right" would get) and ``findings.side_per_finding`` ({label: {"pairs", "agree"}})."""
    per: dict[str, dict[str, int]] = {}
    right = 0
    for called, true in zip(predicted, truth, strict=True):
        said = _sides(called)
        for label, side in _sides(true).items():
            if label not in said:
                continue
            entry = per.setdefault(label, {"pairs": 0, "agree": 0})
            entry["pairs"] += 1
            entry["agree"] += said[label] == side
            right += side == "right"
    pairs = sum(e["pairs"] for e in per.values())
    agree = sum(e["agree"] for e in per.values())
    return {
        "findings.side_accuracy": round(agree / pairs, 4) if pairs else None,
        "findings.side_pairs": pairs,
        "findings.side_baseline_right": round(right / pairs, 4) if pairs else None,
        "findings.side_per_finding": dict(sorted(per.items())),
    }
