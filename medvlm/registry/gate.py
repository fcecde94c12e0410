"""The promotion gate: a candidate may not fall more than ``tolerance`` below production, in the macro
figures and, per finding, in the AUROC of every finding production was measured on with enough positives."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from medvlm.errors import ConfigError

GATED_METRICS = ("report.ce_f1", "findings.macro_auroc")
# Per-finding keys: training's evaluation writes them into the model card, ``attach_metrics`` flattens a
# ``medvlm eval`` metrics.json into them. A macro mean hides one finding lost to a retraining (a correction
# run promoted a model whose cardiomegaly F1 fell 1.00 -> 0.89 while the macro figures held).
FINDING_AUROC = "findings.auroc."
FINDING_POSITIVES = "findings.positives."
PER_FINDING_KEYS = (FINDING_AUROC, FINDING_POSITIVES)
# An AUROC on fewer positives swings by more than any sensible tolerance between two runs of one model.
FINDING_MIN_POSITIVES = 10


def metric_number(value: Any) -> float | None:
    """A metric's value as a float; None for a missing, non-numeric, boolean or NaN value."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def check_tolerance(tolerance: float, what: str = "promotion tolerance") -> None:
    if metric_number(tolerance) is None or tolerance < 0 or tolerance > 1:
        raise ConfigError(f"{what} must be a number in [0, 1], got {tolerance!r}")


def _below(key: str, value: float | None, reference: float, tolerance: float) -> str | None:
    if value is None:
        return f"{key} missing from the candidate's metrics (production has {reference:.4f})"
    if value < reference - tolerance:
        return (f"{key} {value:.4f} is {reference - value:.4f} below production {reference:.4f} "
                f"(tolerance {tolerance:.4f})")
    return None


def gated_findings(production: Mapping[str, Any]) -> list[str]:
    """The findings whose AUROC production was measured with at least FINDING_MIN_POSITIVES positives."""
    names = []
    for key, value in production.items():
        if key.startswith(FINDING_AUROC) and metric_number(value) is not None:
            name = key[len(FINDING_AUROC):]
            if (metric_number(production.get(FINDING_POSITIVES + name)) or 0) >= FINDING_MIN_POSITIVES:
                names.append(name)
    return sorted(names)


def gate_reasons(candidate: Mapping[str, Any], production: Mapping[str, Any], tolerance: float,
                 finding_tolerance: float = 0.05) -> list[str]:
    """Why the candidate may not replace production (empty: it may). A metric production lacks is not gated;
    a gated metric the candidate lacks is a refusal, since it cannot be shown not to regress."""
    check_tolerance(tolerance)
    check_tolerance(finding_tolerance, "per-finding promotion tolerance")
    reasons = []
    for key in GATED_METRICS:
        reference = metric_number(production.get(key))
        if reference is not None:
            reasons.append(_below(key, metric_number(candidate.get(key)), reference, tolerance))
    for name in gated_findings(production):
        key = FINDING_AUROC + name
        reference = float(production[key])
        reasons.append(_below(key, metric_number(candidate.get(key)), reference, finding_tolerance))
    return [r for r in reasons if r]
