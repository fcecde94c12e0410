"""The promotion gate: a candidate may not fall more than ``tolerance`` below production."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from medvlm.errors import ConfigError

GATED_METRICS = ("report.ce_f1", "findings.macro_auroc")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def check_tolerance(tolerance: float) -> None:
    if _number(tolerance) is None or tolerance < 0 or tolerance > 1:
        raise ConfigError(f"promotion tolerance must be a number in [0, 1], got {tolerance!r}")


def gate_reasons(candidate: Mapping[str, Any], production: Mapping[str, Any], tolerance: float) -> list[str]:
    """Why the candidate may not replace production (empty: it may). A metric production lacks is not gated;
    a gated metric the candidate lacks is a refusal, since it cannot be shown not to regress."""
    check_tolerance(tolerance)
    reasons = []
    for key in GATED_METRICS:
        reference = _number(production.get(key))
        if reference is None:
            continue
        value = _number(candidate.get(key))
        if value is None:
            reasons.append(f"{key} missing from the candidate's metrics (production has {reference:.4f})")
        elif value < reference - tolerance:
            reasons.append(f"{key} {value:.4f} is {reference - value:.4f} below production {reference:.4f} "
                           f"(tolerance {tolerance:.4f})")
    return reasons
